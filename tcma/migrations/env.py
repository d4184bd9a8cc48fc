"""Alembic environment: runs inside the app, on the app's engine and metadata."""

from __future__ import annotations

from alembic import context
from flask import current_app

from tcma.extensions import db

config = context.config


def run_migrations_online() -> None:
    engine = db.engine
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=db.metadata,
            render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER much
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `tcma db upgrade`")
assert current_app  # migrations always run inside create_app()
run_migrations_online()
