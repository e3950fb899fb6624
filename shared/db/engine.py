"""The database engine: one connection per execution environment, created lazily, pinged at checkout.

Lambda runs one request at a time per environment, so the pool holds a single connection that survives
between invocations (RDS Proxy multiplexes them). The URL comes from settings, or in Lambda from a
Secrets Manager secret fetched once.
"""

from __future__ import annotations

import json
import time
from functools import cache

from sqlalchemy import URL, Engine, create_engine, event, make_url
from sqlalchemy.exc import DisconnectionError

from shared import aws
from shared.config import get_settings


def database_url() -> URL:
    settings = get_settings()
    if settings.database_url:
        return _with_driver(make_url(settings.database_url))
    if settings.database_secret_arn:
        secret = json.loads(
            aws.client("secretsmanager").get_secret_value(SecretId=settings.database_secret_arn)["SecretString"]
        )
        return URL.create(
            "postgresql+pg8000",
            username=secret["username"],
            password=secret["password"],
            host=secret["host"],
            port=int(secret.get("port", 5432)),
            database=secret.get("dbname", settings.database_name),
        )
    raise RuntimeError("No database configured: set DATABASE_URL or CONVEYOR_DATABASE_SECRET_ARN")


def _with_driver(url: URL) -> URL:
    if url.drivername in ("postgresql", "postgres"):
        return url.set(drivername="postgresql+pg8000")
    return url


@cache
def get_engine() -> Engine:
    settings = get_settings()
    engine = create_engine(
        database_url(),
        pool_size=1,
        max_overflow=4,
        pool_recycle=1800,
        connect_args={"timeout": settings.connect_timeout_s},
    )
    timeout_ms = settings.statement_timeout_ms

    @event.listens_for(engine, "connect")
    def _set_session_defaults(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        cursor = dbapi_connection.cursor()
        cursor.execute(f"SET statement_timeout = {int(timeout_ms)}")
        cursor.execute("SET TIME ZONE 'UTC'")
        cursor.close()
        dbapi_connection.commit()

    ping_after_idle_s = settings.db_ping_after_idle_s

    @event.listens_for(engine, "checkin")
    def _mark_idle(_dbapi_connection, record) -> None:  # type: ignore[no-untyped-def]
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_connection, record, _proxy) -> None:  # type: ignore[no-untyped-def]
        # Our own pre-ping: SQLAlchemy's `pool_pre_ping` misses the raw ConnectionResetError pg8000 raises
        # when the server (or RDS Proxy) dropped the connection, so a stale connection would fail the request.
        # Only after the connection sat idle (a frozen Lambda environment, a quiet laptop): back-to-back
        # invocations skip its three round trips.
        idle_since = record.info.get("idle_since")
        if idle_since is not None and time.monotonic() - idle_since < ping_after_idle_s:
            return
        try:
            cursor = dbapi_connection.cursor()
            cursor.execute("SELECT 1")
            cursor.close()
            dbapi_connection.rollback()
        except Exception as exc:
            raise DisconnectionError("stale pooled connection") from exc

    return engine


def dispose_engine() -> None:
    """Close the connection and forget the engine (the next use reconnects with current settings)."""
    if get_engine.cache_info().currsize:
        get_engine().dispose()
    get_engine.cache_clear()
