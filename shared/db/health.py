"""Database health, for the API's health check."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from shared.db.session import session


def database_ok() -> bool:
    """True when a trivial query round-trips; never raises, so a health check can always answer."""
    try:
        with session() as s:
            return s.execute(text("SELECT 1")).scalar_one() == 1
    except (SQLAlchemyError, OSError, RuntimeError):
        return False
