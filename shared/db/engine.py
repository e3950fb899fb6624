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


READ_TIMEOUT_MARGIN_S = 5.0


def session_defaults(statement_timeout_ms: int) -> dict[str, str]:
    """The session settings every connection runs with, as Postgres parameters.

    On the laptop and in tests each new connection SETs them (`db_session_defaults = "connect"`). Behind RDS Proxy a
    session-level SET pins the client connection to one database connection, so in AWS the instance's parameter
    group sets the same values (infra/data.py builds it from this function) and nothing is SET.
    """
    return {"statement_timeout": str(int(statement_timeout_ms)), "timezone": "UTC"}


def sets_session_defaults_on_connect() -> bool:
    settings = get_settings()
    if settings.db_session_defaults is not None:
        return settings.db_session_defaults == "connect"
    from_secret = not settings.database_url and bool(settings.database_secret_arn)
    return not from_secret  # in AWS (credentials from the secret) the parameter group sets them


def read_timeout_s() -> float:
    """The socket timeout once connected: it outlasts the statement timeout, so a slow query is cancelled by
    Postgres (a clean error, the connection still usable) before the socket gives up mid-reply."""
    return get_settings().statement_timeout_ms / 1000 + READ_TIMEOUT_MARGIN_S


def connect_args() -> dict[str, Any]:
    """Driver options: the connect timeout, and TLS (verified) whenever we connect to RDS in AWS.

    pg8000 has one `timeout`, applied to every socket operation of the connection. It is given the connect timeout,
    so the TCP connect, the TLS handshake, the startup and authentication exchange and the dialect's first queries
    are each bounded by it (an unreachable or hung database fails fast); once connected, `get_engine` switches the
    socket to `read_timeout_s()` for statements.
    """
    settings = get_settings()
    args: dict[str, Any] = {"timeout": settings.connect_timeout_s}
    from_secret = not settings.database_url and bool(settings.database_secret_arn)
    if settings.database_tls if settings.database_tls is not None else from_secret:
        args["ssl_context"] = ssl.create_default_context()
    return args


def _set_socket_timeout(dbapi_connection: Any, seconds: float) -> None:
    sock = getattr(dbapi_connection, "_usock", None)  # pg8000's socket (an SSLSocket with TLS); makefile() follows it
    if sock is not None:
        sock.settimeout(seconds)


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

    defaults = session_defaults(settings.statement_timeout_ms) if sets_session_defaults_on_connect() else {}
    connect_timeout_s, statement_read_timeout_s = settings.connect_timeout_s, read_timeout_s()

    @event.listens_for(engine, "connect")
    def _session_defaults_then_read_timeout(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        # Registered after the dialect's own connect hooks (its first-connect queries ran with the connect timeout).
        if defaults:
            cursor = dbapi_connection.cursor()
            for name, value in defaults.items():
                cursor.execute(f"SET {name} = '{value}'")
            cursor.close()
            dbapi_connection.commit()
        _set_socket_timeout(dbapi_connection, statement_read_timeout_s)

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
        # The ping is a connectivity check: bounded by the connect timeout, not by the statements' read timeout, so a
        # database that went away under a pooled connection (or a proxy that cannot reach it) fails fast.
        try:
            _set_socket_timeout(dbapi_connection, connect_timeout_s)
            cursor = dbapi_connection.cursor()
            cursor.execute("SELECT 1")
            cursor.close()
            dbapi_connection.rollback()
            _set_socket_timeout(dbapi_connection, statement_read_timeout_s)
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
