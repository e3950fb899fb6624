"""Alembic environment: runs on a connection handed over by `shared.db.migrate` (or the configured engine)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from shared.db.models import Base

# Any constant unique to Conveyor: two deploys (or a deploy and the laptop stack) never migrate at once.
MIGRATION_LOCK_ID = 0x436F6E76  # "Conv"

target_metadata = Base.metadata


def run_migrations(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
    connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": MIGRATION_LOCK_ID})
    try:
        with context.begin_transaction():
            context.run_migrations()
    finally:
        connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK_ID})


connection = context.config.attributes.get("connection")
if connection is not None:
    run_migrations(connection)
else:
    from shared.db.engine import get_engine

    with get_engine().connect() as conn:
        run_migrations(conn)
        conn.commit()
