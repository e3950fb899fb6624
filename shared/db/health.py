"""Database health: the API's health check, and telling an outage from a bug."""

from __future__ import annotations

import socket
import sys

from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from shared.db.session import session

# SQLSTATE classes and codes that mean "try again later", not "the statement is wrong": connection exceptions (08),
# insufficient resources (53, e.g. too many connections), operator intervention (57: shutdown, cannot connect now,
# statement timeout), transaction rollback (40: serialization failure, deadlock).
_TRANSIENT_CLASSES = ("08", "53", "57", "40")


def database_ok() -> bool:
    """True when a trivial query round-trips; never raises, so a health check can always answer."""
    try:
        with session() as s:
            return s.execute(text("SELECT 1")).scalar_one() == 1
    except (SQLAlchemyError, OSError, RuntimeError):
        return False


def is_unavailable(exc: BaseException) -> bool:
    """True when `exc` (or what caused it) says the database or the network to it is down, slow or overloaded.

    Such a failure answers 503 with Retry-After; anything else unexpected is our bug (500).
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _is_outage(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def _is_outage(exc: BaseException) -> bool:
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    # A dropped connection, the pool's timeout; refused, reset or timed-out sockets, an unknown host.
    if isinstance(
        exc, sa_exc.DisconnectionError | sa_exc.TimeoutError | ConnectionError | TimeoutError | socket.gaierror
    ):
        return True
    driver = sys.modules.get("pg8000.exceptions")  # not imported here: if it is not loaded, it raised nothing
    if driver is None:
        return False
    if isinstance(exc, driver.InterfaceError):  # pg8000's "network error", "communication error", "Can't create…"
        return True
    sqlstate = exc.args[0].get("C", "") if exc.args and isinstance(exc.args[0], dict) else ""
    return isinstance(exc, driver.DatabaseError) and str(sqlstate).startswith(_TRANSIENT_CLASSES)
