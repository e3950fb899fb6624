"""The per-credential rate limit (OWASP API4): counted in Postgres, shared by every execution environment."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from shared.db import session
from shared.db.models import ApiKey
from shared.identity.api_keys import issue_key
from shared.identity.auth import authenticate, clear_cache
from shared.identity.ratelimit import RateLimited
from shared.identity.sessions import login
from tests.conftest import reconfigure
from tests.support.api import ApiClient


@pytest.fixture
def limit(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """`limit(requests, window_s)` configures the rate limit, as a stage's settings would."""

    def configure(requests: int, window_s: int = 60) -> None:
        monkeypatch.setenv("CONVEYOR_RATE_LIMIT_REQUESTS", str(requests))
        monkeypatch.setenv("CONVEYOR_RATE_LIMIT_WINDOW_S", str(window_s))
        reconfigure()
        clear_cache()

    yield configure
    monkeypatch.undo()
    reconfigure()
    clear_cache()


def test_the_request_over_the_limit_is_429_rate_limited_with_retry_after(limit: Any, alice) -> None:  # type: ignore[no-untyped-def]
    # Given a limit of 3 requests a minute
    limit(3)

    # When a key makes 4 requests, the first on a cold auth cache and the third in a "new execution environment"
    statuses = [alice.client.get("/v1/me").status for _ in range(2)]
    reconfigure()  # a new environment: its own connection and an empty auth cache, the same database
    clear_cache()
    statuses.append(alice.client.get("/v1/me").status)
    over = alice.client.get("/v1/me")

    # Then the first 3 pass and the 4th is the contract's 429 with Retry-After within the window
    assert statuses == [200, 200, 200]
    assert over.status == 429, over.body
    assert over.error_code == "rate_limited"
    retry_after = int(over.headers["retry-after"])
    assert 1 <= retry_after <= 60
    assert over.json["error"]["details"] == {"limit": 3, "window_s": 60, "retry_after_s": retry_after}
    assert "request_id" not in over.json["error"]  # a 4xx: the client's to fix, nothing to look up in the log


def test_the_limit_is_per_credential(limit: Any, alice) -> None:  # type: ignore[no-untyped-def]
    # Given a limit of 2 and alice's first key used up
    limit(2)
    for _ in range(2):
        assert alice.client.get("/v1/me").status == 200
    assert alice.client.get("/v1/me").status == 429

    # When she uses another key, and then a session token
    other = ApiClient(issue_key(alice.id, name="second", scopes=["read"]).secret)
    signed_in = ApiClient(login_token(alice.id))

    # Then each has its own budget
    assert [other.get("/v1/me").status for _ in range(3)] == [200, 200, 429]
    assert [signed_in.get("/v1/me").status for _ in range(3)] == [200, 200, 429]


def login_token(user_id: Any) -> str:
    from shared.db.models import User
    from shared.identity.passwords import hash_password

    with session() as s:
        user = s.get(User, user_id)
        assert user is not None
        user.password_hash = hash_password("correct horse battery")
        email = user.email
    return login(email, "correct horse battery", user_agent=None, ip_address=None).token


def test_a_new_window_starts_with_a_fresh_budget(limit: Any, alice) -> None:  # type: ignore[no-untyped-def]
    # Given a limit of 1 request per 1 s window, used up
    limit(1, window_s=1)
    first = alice.client.get("/v1/me")
    over = alice.client.get("/v1/me")
    if first.status == 429:  # pragma: no cover - the first request landed on a window boundary; start again
        time.sleep(1)
        first, over = alice.client.get("/v1/me"), alice.client.get("/v1/me")
    assert (first.status, over.status) == (200, 429)

    # When the client waits as long as Retry-After says
    time.sleep(int(over.headers["retry-after"]))

    # Then it may call again
    assert alice.client.get("/v1/me").status == 200


def test_concurrent_requests_never_exceed_the_limit(limit: Any, alice) -> None:  # type: ignore[no-untyped-def]
    # Given a limit of 10 and 20 concurrent first requests with one key (every one a cache miss or hit, racing)
    limit(10)
    passed: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(20)

    def call() -> None:
        start.wait()
        try:
            authenticate(alice.key)
            ok = True
        except RateLimited:
            ok = False
        with lock:
            passed.append(ok)

    threads = [threading.Thread(target=call) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Then exactly 10 pass, and the stored count saw all 20 (the window is counted atomically)
    assert sorted(passed) == [False] * 10 + [True] * 10
    with session() as s:
        assert s.scalar(select(ApiKey.rate_hits).where(ApiKey.user_id == alice.id)) == 20


def test_no_limit_when_set_to_zero(limit: Any, alice) -> None:  # type: ignore[no-untyped-def]
    limit(0)
    assert {alice.client.get("/v1/me").status for _ in range(5)} == {200}
