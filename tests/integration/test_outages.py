"""A database outage answers the contract's 503 at once, with a correlation id and a logged traceback.

The database really goes away: a Postgres of this module's own (never the shared test server) is stopped under
a warm environment, a closed port refuses connections, and a socket accepts connections and never answers.
"""

from __future__ import annotations

import io
import json
import logging
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from local.postgres import EmbeddedPostgres
from shared.db import session
from shared.identity.auth import clear_cache
from tests.conftest import reconfigure
from tests.support.api import ApiClient, ApiResponse
from tests.support.users import TestUser, create_test_user

DEADLINE_S = 3.0
UNAVAILABLE_MESSAGE = "The service is temporarily unavailable; retry later."


@pytest.fixture
def api_log() -> Iterator[io.StringIO]:
    """What the API function's Powertools logger writes (JSON lines), captured with its own formatter."""
    from functions.api.handler import logger

    stream = io.StringIO()
    capture = logging.StreamHandler(stream)
    capture.setFormatter(logger.registered_formatter)
    logger._logger.addHandler(capture)
    try:
        yield stream
    finally:
        logger._logger.removeHandler(capture)


def log_records(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


@pytest.fixture
def database_at(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """`database_at(url, **settings)` points Conveyor at another database, as a new execution environment would."""

    def point(url: str, **settings: str) -> None:
        monkeypatch.setenv("DATABASE_URL", url)
        for name, value in settings.items():
            monkeypatch.setenv(f"CONVEYOR_{name.upper()}", value)
        reconfigure()
        clear_cache()

    yield point
    monkeypatch.undo()
    reconfigure()
    clear_cache()


@pytest.fixture
def refused_port() -> int:
    """A local TCP port nothing listens on: connecting is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def blackhole() -> Iterator[int]:
    """A port that accepts connections (the kernel completes the handshake) and never answers a byte."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield listener.getsockname()[1]


@pytest.fixture
def own_postgres() -> Iterator[EmbeddedPostgres]:
    """A Postgres that this test may stop (the shared test server keeps running).

    In a folder of its own rather than pytest's tmp_path: concurrent pytest runs prune each other's old tmp folders.
    """
    folder = Path(tempfile.mkdtemp(prefix="conveyor-outage-"))
    pg = EmbeddedPostgres(folder)
    pg.start()
    try:
        yield pg
    finally:
        pg.stop()
        shutil.rmtree(folder, ignore_errors=True)


def timed_get_me(client: ApiClient) -> tuple[ApiResponse, float]:
    started = time.monotonic()
    response = client.get("/v1/me")
    return response, time.monotonic() - started


def assert_unavailable(
    response: ApiResponse, elapsed_s: float, log: io.StringIO, *, hidden: tuple[str, ...] = ()
) -> None:
    """The contract's 503, fast, with the request id in body and header and a logged traceback under that id."""
    assert elapsed_s < DEADLINE_S, f"took {elapsed_s:.2f} s"
    assert response.status == 503, response.body
    assert response.headers["content-type"] == "application/json"
    assert int(response.headers["retry-after"]) >= 1
    error = response.json["error"]
    request_id = error.pop("request_id")
    assert error == {"code": "unavailable", "message": UNAVAILABLE_MESSAGE, "details": None}
    assert request_id
    assert response.headers["x-request-id"] == request_id
    for secret in hidden:
        assert secret not in response.body.decode()
    [logged] = [r for r in log_records(log) if r["level"] == "ERROR"]
    assert logged["message"] == "dependency unavailable"
    assert logged["correlation_id"] == request_id
    assert "Traceback" in logged["exception"]


@pytest.mark.usefixtures("db")
def test_get_me_answers_503_within_3_s_when_the_database_refuses_connections(
    database_at: Any, refused_port: int, api_log: io.StringIO
) -> None:
    # Given a database host that refuses connections
    database_at(f"postgresql+pg8000://app:secret@127.0.0.1:{refused_port}/conveyor")

    # When a client calls GET /v1/me with an API key (authentication must read the database)
    response, elapsed = timed_get_me(ApiClient("cvk_test_" + "A" * 43))

    # Then it is the contract's 503 at once; neither the host nor the driver's text reaches the client
    assert_unavailable(response, elapsed, api_log, hidden=(str(refused_port), "127.0.0.1", "pg8000", "connection"))


@pytest.mark.usefixtures("db")
def test_get_me_answers_503_within_3_s_when_the_database_accepts_and_never_answers(
    database_at: Any, blackhole: int, api_log: io.StringIO
) -> None:
    # Given a database host that accepts connections and then never answers, with the default timeouts
    database_at(f"postgresql+pg8000://app:secret@127.0.0.1:{blackhole}/conveyor")

    # When a client calls GET /v1/me
    response, elapsed = timed_get_me(ApiClient("cvk_test_" + "A" * 43))

    # Then the connect timeout (2 s by default), not the statement timeout, decides: 503 within 3 s
    assert_unavailable(response, elapsed, api_log, hidden=(str(blackhole),))


def test_a_database_stopped_under_a_warm_environment_answers_503_in_authentication_and_routing(
    database_at: Any, own_postgres: EmbeddedPostgres, api_log: io.StringIO
) -> None:
    from shared.db.migrate import upgrade

    # Given a warm environment on a database of our own: a user whose key is cached, a pooled connection
    database_at(own_postgres.url("conveyor"), rate_limit_requests="0")
    upgrade()
    alice: TestUser = create_test_user(email="alice@example.com")
    assert alice.client.get("/v1/me").status == 200

    # When the database stops
    own_postgres.stop()

    # Then with the key still cached, the route's query fails: 503 from routing
    response, elapsed = timed_get_me(alice.client)
    assert_unavailable(response, elapsed, api_log)

    # And once the cache has forgotten the key, authentication's lookup fails: 503 before routing
    api_log.truncate(0)
    api_log.seek(0)
    clear_cache()
    response, elapsed = timed_get_me(alice.client)
    assert_unavailable(response, elapsed, api_log)


def test_a_failure_in_authentication_that_is_no_outage_is_an_opaque_500_with_the_request_id(
    database_at: Any, own_postgres: EmbeddedPostgres, api_log: io.StringIO
) -> None:
    from shared.db.migrate import upgrade

    # Given a database whose schema is not what the code expects (our bug, not an outage)
    database_at(own_postgres.url("conveyor"))
    upgrade()
    alice = create_test_user(email="alice@example.com")
    with session() as s:
        s.execute(text("ALTER TABLE api_keys RENAME COLUMN rate_hits TO renamed_rate_hits"))

    # When the user calls GET /v1/me
    response = alice.client.get("/v1/me")

    # Then it is an opaque 500 carrying the request id, and the log has the traceback under that id
    assert response.status == 500, response.body
    error = response.json["error"]
    request_id = error.pop("request_id")
    assert error == {
        "code": "internal_error",
        "message": "Something went wrong on our side; it has been logged.",
        "details": None,
    }
    assert response.headers["x-request-id"] == request_id
    assert "retry-after" not in response.headers
    assert "rate_hits" not in response.body.decode()
    [logged] = [r for r in log_records(api_log) if r["level"] == "ERROR"]
    assert (logged["message"], logged["correlation_id"]) == ("unhandled error", request_id)
    assert "rate_hits" in logged["exception"]


@pytest.mark.usefixtures("db")
def test_statements_get_the_read_timeout_not_the_connect_timeout(database_at: Any, database_url: Any) -> None:
    # Given a 1 s connect timeout
    database_at(database_url.render_as_string(hide_password=False), connect_timeout_s="1")

    # When a statement runs longer than that, it completes (only connecting is bounded by the connect timeout)
    with session() as s:
        assert s.execute(text("SELECT pg_sleep(1.5), 1")).one()[1] == 1


def test_a_connection_through_a_blackhole_is_bounded_by_the_connect_timeout(blackhole: int) -> None:
    # The driver options alone, outside the API: connecting gives up after connect_timeout_s
    from shared.config import get_settings
    from shared.db.engine import connect_args

    engine = create_engine(
        f"postgresql+pg8000://app:secret@127.0.0.1:{blackhole}/conveyor", connect_args=connect_args()
    )
    started = time.monotonic()
    with pytest.raises(Exception, match=r"timed out|network error"):
        engine.connect()
    assert time.monotonic() - started < get_settings().connect_timeout_s + 0.5
    engine.dispose()
