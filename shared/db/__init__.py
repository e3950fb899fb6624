"""Database access: engine, unit of work, models and migrations."""

from shared.db.engine import dispose_engine, get_engine
from shared.db.session import session

__all__ = ["dispose_engine", "get_engine", "session"]
