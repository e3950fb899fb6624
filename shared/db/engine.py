"""The database engine: one connection per execution environment, created lazily, pinged at checkout.

Lambda runs one request at a time per environment, so the pool holds a single connection that survives
between invocations (RDS Proxy multiplexes them). The URL comes from settings, or in Lambda from a
Secrets Manager secret fetched once.
"""

from __future__ import annotations

import json
import ssl
import time
from functools import cache, lru_cache
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event, make_url
from sqlalchemy.exc import DisconnectionError

from shared import aws
from shared.config import get_settings


def database_url() -> URL:
    settings = get_settings()
    if settings.database_url:
        return _with_driver(make_url(settings.database_url))
    if settings.database_secret_arn:
        secret = database_secret()
        return URL.create(
            "postgresql+pg8000",
            username=secret["username"],
            password=secret["password"],
            host=settings.database_host or secret["host"],
            port=int(secret.get("port", 5432)),
            database=secret.get("dbname", settings.database_name),
        )
    raise RuntimeError("No database configured: set DATABASE_URL or CONVEYOR_DATABASE_SECRET_ARN")


_secret: dict[str, Any] | None = None


def database_secret(*, refresh: bool = False) -> dict[str, Any]:
    """The RDS credentials secret, fetched once per execution environment (again after a rotation)."""
    global _secret  # noqa: PLW0603
    if _secret is None or refresh:
        arn = get_settings().database_secret_arn
        _secret = json.loads(aws.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"])
    return _secret


def _is_auth_failure(exc: Exception) -> bool:
    # 28P01 invalid_password, 28000 invalid_authorization_specification: what a rotated password looks like.
    return any(code in str(exc) for code in ("28P01", "28000"))


def _with_driver(url: URL) -> URL:
    if url.drivername in ("postgresql", "postgres"):
        return url.set(drivername="postgresql+pg8000")
    return url


def _memoize_pg8000_paramstyle() -> None:
    """pg8000 rescans every statement character by character to turn `%s` into `$1` (0.6 ms for a wide INSERT,
    the largest CPU cost per job). SQLAlchemy sends the same few statement strings again and again, and for the
    positional styles the result depends on the string alone, so it is memoized. Results are identical
    (tests/unit/test_pg8000_paramstyle.py checks them against the original)."""
    import pg8000.legacy

    original = pg8000.legacy.convert_paramstyle
    if getattr(original, "conveyor_memoized", False):
        return

    @lru_cache(maxsize=2048)
    def convert_query(style: str, query: str) -> str:
        return original(style, query, ())[0]

    def convert_paramstyle(style: str, query: str, args: Any) -> tuple[str, Any]:
        if style in ("format", "numeric", "qmark"):
            return convert_query(style, query), args
        return original(style, query, args)

    convert_paramstyle.conveyor_memoized = True  # type: ignore[attr-defined]
    convert_paramstyle.original = original  # type: ignore[attr-defined]
    pg8000.legacy.convert_paramstyle = convert_paramstyle


def connect_args() -> dict[str, Any]:
    """Driver options: a socket timeout, and TLS (verified) whenever we connect to RDS in AWS.

    pg8000's `timeout` bounds every socket read, not only the connect, so it must outlast the statement timeout:
    then a slow query is cancelled by Postgres (a clean error, the connection still usable) instead of the socket
    giving up mid-reply and leaving a broken connection behind.
    """
    settings = get_settings()
    read_timeout_s = settings.statement_timeout_ms / 1000 + 5
    args: dict[str, Any] = {"timeout": max(settings.connect_timeout_s, read_timeout_s)}
    from_secret = not settings.database_url and bool(settings.database_secret_arn)
    if settings.database_tls if settings.database_tls is not None else from_secret:
        args["ssl_context"] = ssl.create_default_context()
    return args


@cache
def get_engine() -> Engine:
    _memoize_pg8000_paramstyle()
    settings = get_settings()
    from_secret = not settings.database_url and bool(settings.database_secret_arn)
    engine = create_engine(
        database_url(),
        pool_size=1,
        max_overflow=4,
        pool_recycle=1800,
        connect_args=connect_args(),
    )
    from shared.db import prepared  # imports pg8000, like the engine's first connection: not before it is needed

    prepared.install(engine)  # statements marked `.execution_options(prepared=True)`: see shared/db/prepared.py

    if from_secret:

        @event.listens_for(engine, "do_connect")
        def _connect_with_current_password(dialect, _record, cargs, cparams):  # type: ignore[no-untyped-def]
            # Secrets Manager rotates the password under us: on an authentication failure, read the secret again
            # and retry once, instead of failing every request until the environment is recycled.
            try:
                return dialect.connect(*cargs, **cparams)
            except dialect.loaded_dbapi.Error as exc:
                if not _is_auth_failure(exc):
                    raise
                cparams["password"] = database_secret(refresh=True)["password"]
                return dialect.connect(*cargs, **cparams)

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
    """Close the connection and forget the engine and credentials (the next use reconnects with current settings)."""
    global _secret  # noqa: PLW0603
    _secret = None
    if get_engine.cache_info().currsize:
        get_engine().dispose()
    get_engine.cache_clear()
