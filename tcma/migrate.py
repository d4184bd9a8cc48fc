"""Schema migrations with Alembic, driven from inside the app."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from tcma.extensions import db

SCRIPT_LOCATION = str(Path(__file__).parent / "migrations")


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    return config


def upgrade(revision: str = "heads") -> None:
    """Bring the database schema up to ``revision`` (every head by default: domains developed
    side by side may branch from the same parent); needs an app context."""
    command.upgrade(alembic_config(), revision)


def revision(message: str) -> None:
    """Write a new migration from the difference between the models and the database."""
    command.revision(alembic_config(), message=message, autogenerate=True)


def is_current() -> bool:
    """True when the database is at the newest migration."""
    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    with db.engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    return current == heads
