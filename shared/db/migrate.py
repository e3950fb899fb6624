"""Run Alembic migrations from code (laptop stack, tests, and the `migrate` custom resource)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection

from shared.db.engine import get_engine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def upgrade(revision: str = "head") -> str | None:
    """Upgrade the configured database to `revision`; returns the revision it is at afterwards."""
    with get_engine().connect() as connection:
        command.upgrade(alembic_config(connection), revision)
        connection.commit()
        return current_revision(connection)


def current_revision(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()
