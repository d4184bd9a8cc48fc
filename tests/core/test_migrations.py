"""The migrations build exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from tcma import migrate
from tcma.extensions import db


def test_models_and_migrations_agree(ctx):
    with db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), db.metadata)
    assert diff == [], f"models differ from migrations; run `tcma db revision`: {diff}"


def test_database_is_at_head(ctx):
    assert migrate.is_current()
