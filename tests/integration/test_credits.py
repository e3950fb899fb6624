"""The credit ledger: grant/reserve/capture/release, idempotency, concurrency, history and the admin grant."""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.engine import URL
from sqlalchemy.orm import sessionmaker

from functions.api import errors as api_errors
from shared.billing import ledger
from shared.db import session
from shared.db.models import CreditAccount, CreditLedger, CreditReservation
from shared.errors import Conflict, InsufficientCredits, InvalidInput, NotFound


def ledger_sum(user_id: uuid.UUID) -> int:
    with session() as s:
        return int(
            s.scalar(select(func.coalesce(func.sum(CreditLedger.delta), 0)).where(CreditLedger.user_id == user_id))
        )


def account(user_id: uuid.UUID) -> tuple[int, int]:
    with session() as s:
        row = s.get(CreditAccount, user_id)
        return (row.balance, row.reserved) if row else (0, 0)


@pytest.fixture
def wide_engine(db: URL) -> Iterator[Engine]:
    """An engine with a connection per thread (the app's pool is sized for one Lambda request at a time)."""
    engine = create_engine(db, pool_size=24, max_overflow=0, pool_timeout=60)
    yield engine
    engine.dispose()


# --- semantics ------------------------------------------------------------------------------------------------


def test_grant_reserve_capture_release_move_balance_and_reserved(alice) -> None:  # type: ignore[no-untyped-def]
    # Given 100 granted credits
    ledger.grant(alice.id, 100, reason="welcome")

    # When 30 are reserved for one job and 20 for another
    ledger.reserve(alice.id, 30, "job:a")
    ledger.reserve(alice.id, 20, "job:b")
    # Then they are held, not spent
    assert ledger.balance(alice.id) == ledger.Balance(balance=100, reserved=50, available=50, debt=0)

    # When job a succeeds and job b fails
    captured = ledger.capture("job:a")
    released = ledger.release("job:b")

    # Then only a's credits are spent, and the balance is the sum of the ledger
    assert (captured.status, released.status) == ("captured", "released")
    assert ledger.balance(alice.id) == ledger.Balance(balance=70, reserved=0, available=70, debt=0)
    assert ledger_sum(alice.id) == 70
    with session() as s:
        rows = s.execute(
            select(CreditLedger.kind, CreditLedger.delta, CreditLedger.balance_after, CreditLedger.reserved_after)
            .where(CreditLedger.user_id == alice.id)
            .order_by(CreditLedger.created_at, CreditLedger.balance_after.desc(), CreditLedger.reserved_after)
        ).all()
    assert [tuple(r) for r in rows] == [
        ("grant", 100, 100, 0),
        ("reserve", 0, 100, 30),
        ("reserve", 0, 100, 50),
        ("capture", -30, 70, 20),
        ("release", 0, 70, 0),
    ]


def test_a_partial_capture_spends_less_and_frees_the_rest(alice) -> None:  # type: ignore[no-untyped-def]
    ledger.grant(alice.id, 10)
    ledger.reserve(alice.id, 8, "job:partial")

    ledger.capture("job:partial", amount=5)

    assert ledger.balance(alice.id) == ledger.Balance(balance=5, reserved=0, available=5, debt=0)
    assert ledger_sum(alice.id) == 5
    ledger.reserve(alice.id, 1, "job:x")
    with pytest.raises(InvalidInput):
        ledger.capture("job:x", amount=2)
    assert account(alice.id) == (5, 1)


def test_reserving_more_than_available_fails_and_changes_nothing(alice) -> None:  # type: ignore[no-untyped-def]
    ledger.grant(alice.id, 10)
    ledger.reserve(alice.id, 7, "job:1")

    with pytest.raises(InsufficientCredits) as caught:
        ledger.reserve(alice.id, 4, "job:2")

    assert caught.value.details == {"required": 4, "available": 3, "debt": 0}
    assert account(alice.id) == (10, 7)
    with session() as s:
        assert s.scalar(select(func.count()).select_from(CreditReservation)) == 1


def test_a_user_without_an_account_has_nothing_to_reserve(alice) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InsufficientCredits):
        ledger.reserve(alice.id, 1, "job:none")
    assert ledger.balance(alice.id) == ledger.Balance(0, 0, 0, 0)


def test_operations_are_idempotent_per_reference(alice) -> None:  # type: ignore[no-untyped-def]
    ledger.grant(alice.id, 50)

    first = ledger.reserve(alice.id, 10, "job:idem")
    again = ledger.reserve(alice.id, 10, "job:idem")
    assert again.id == first.id
    assert account(alice.id) == (50, 10)

    ledger.capture("job:idem")
    assert ledger.capture("job:idem").status == "captured"
    assert ledger.reserve(alice.id, 10, "job:idem").status == "captured"  # a replayed reserve changes nothing
    assert account(alice.id) == (40, 0)

    ledger.reserve(alice.id, 5, "job:rel")
    ledger.release("job:rel")
    assert ledger.release("job:rel").status == "released"
    assert account(alice.id) == (40, 0)
    assert ledger_sum(alice.id) == 40

    granted = ledger.grant(alice.id, 5, reference="promo:1")
    assert ledger.grant(alice.id, 5, reference="promo:1").id == granted.id
    assert account(alice.id) == (45, 0)


def test_conflicting_settlements_and_unknown_references_are_refused(alice, bob) -> None:  # type: ignore[no-untyped-def]
    ledger.grant(alice.id, 50)
    ledger.grant(bob.id, 50)
    ledger.reserve(alice.id, 5, "job:c1")
    ledger.reserve(alice.id, 5, "job:c2")
    ledger.release("job:c1")
    ledger.capture("job:c2")

    with pytest.raises(Conflict):
        ledger.capture("job:c1")
    with pytest.raises(Conflict):
        ledger.release("job:c2")
    with pytest.raises(Conflict):
        ledger.reserve(alice.id, 6, "job:c2")  # same reference, different amount
    with pytest.raises(Conflict):
        ledger.reserve(bob.id, 5, "job:c2")  # another user's reference
    with pytest.raises(NotFound):
        ledger.capture("job:nope")
    with pytest.raises(NotFound):
        ledger.release("job:c1", user_id=bob.id)  # scoped to its owner
    with pytest.raises(NotFound):
        ledger.grant(uuid.uuid4(), 5)
    with pytest.raises(InvalidInput):
        ledger.reserve(alice.id, 0, "job:zero")
    assert account(alice.id) == (45, 0)
    assert account(bob.id) == (50, 0)


def test_reserve_joins_the_callers_transaction(alice) -> None:  # type: ignore[no-untyped-def]
    # Given a job-creation transaction that reserves credits and then fails
    ledger.grant(alice.id, 10)
    with pytest.raises(RuntimeError), session() as s:
        ledger.reserve(alice.id, 10, "job:rolled-back", s=s)
        raise RuntimeError("job insert failed")

    # Then the reservation went with it
    assert account(alice.id) == (10, 0)

    # And when it commits, the reservation is there
    with session() as s:
        ledger.reserve(alice.id, 10, "job:kept", s=s)
    assert account(alice.id) == (10, 10)


def test_insufficient_credits_answers_402_in_the_error_contract(alice) -> None:  # type: ignore[no-untyped-def]
    ledger.grant(alice.id, 2)
    with pytest.raises(InsufficientCredits) as caught:
        ledger.reserve(alice.id, 3, "job:402")

    response = api_errors.proxy_error(caught.value)

    assert response["statusCode"] == 402
    assert json.loads(response["body"]) == {
        "error": {
            "code": "insufficient_credits",
            "message": "Not enough credits available for this operation.",
            "details": {"required": 3, "available": 2, "debt": 0},
        }
    }


# --- concurrency ----------------------------------------------------------------------------------------------


def test_concurrent_reservations_never_overdraw(alice, wide_engine: Engine) -> None:  # type: ignore[no-untyped-def]
    # Given 150 credits and 240 one-credit reservations spread over 20 threads, each with its own connection
    credits, threads, per_thread = 150, 20, 12
    ledger.grant(alice.id, credits)
    factory = sessionmaker(bind=wide_engine, expire_on_commit=False)
    start = threading.Barrier(threads + 1)
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()
    lowest_available: list[int] = []
    done = threading.Event()

    def reserve_many(worker: int) -> None:
        with wide_engine.connect() as warm:  # open the connection before the start line
            warm.execute(text("SELECT 1"))
        start.wait(timeout=60)
        for i in range(per_thread):
            try:
                with factory.begin() as s:
                    ledger.reserve(alice.id, 1, f"job:{worker}:{i}", s=s)
                result = "ok"
            except InsufficientCredits:
                result = "insufficient"
            except Exception as exc:  # anything else is a failure the test reports
                result = f"error: {exc!r}"
            with lock:
                outcomes[result] += 1

    def watch() -> None:
        with wide_engine.connect() as conn:
            while not done.is_set():
                row = conn.execute(
                    text("SELECT balance, reserved FROM credit_accounts WHERE user_id = :u"), {"u": alice.id}
                ).one()
                lowest_available.append(row.balance - row.reserved)
                conn.rollback()

    # When they all run at once
    workers = [threading.Thread(target=reserve_many, args=(n,)) for n in range(threads)]
    watcher = threading.Thread(target=watch)
    for t in workers:
        t.start()
    watcher.start()
    start.wait(timeout=60)
    for t in workers:
        t.join(timeout=120)
    done.set()
    watcher.join(timeout=10)

    # Then exactly as many succeed as the balance allowed, and nothing went below zero
    assert outcomes == Counter({"ok": credits, "insufficient": threads * per_thread - credits})
    assert min(lowest_available) >= 0
    assert ledger.balance(alice.id) == ledger.Balance(balance=credits, reserved=credits, available=0, debt=0)
    assert ledger_sum(alice.id) == credits
    with session() as s:
        held = s.scalar(select(func.sum(CreditReservation.amount)).where(CreditReservation.status == "held"))
        broken = s.scalar(
            select(func.count()).where(
                CreditLedger.user_id == alice.id,
                (CreditLedger.reserved_after > CreditLedger.balance_after) | (CreditLedger.balance_after < 0),
            )
        )
    assert (held, broken) == (credits, 0)

    # And settling them concurrently (half captured, half released) keeps balance == sum(ledger)
    with session() as s:
        refs = list(s.scalars(select(CreditReservation.reference).order_by(CreditReservation.reference)))

    to_capture = set(refs[::2])

    def settle(chunk: list[str]) -> None:
        for ref in chunk:
            with factory.begin() as s:
                (ledger.capture if ref in to_capture else ledger.release)(ref, s=s)

    settlers = [threading.Thread(target=settle, args=(refs[n::10],)) for n in range(10)]
    for t in settlers:
        t.start()
    for t in settlers:
        t.join(timeout=120)
    captured = len(to_capture)
    assert ledger.balance(alice.id) == ledger.Balance(credits - captured, 0, credits - captured, 0)
    assert ledger_sum(alice.id) == credits - captured


# --- API ------------------------------------------------------------------------------------------------------


def test_get_credits_shows_balance_reserved_available(alice, bob) -> None:  # type: ignore[no-untyped-def]
    assert alice.client.get("/v1/credits").json == {"balance": 0, "reserved": 0, "available": 0, "debt": 0}
    ledger.grant(alice.id, 12)
    ledger.reserve(alice.id, 5, "job:api")

    response = alice.client.get("/v1/credits")

    assert response.status == 200
    assert response.json == {"balance": 12, "reserved": 5, "available": 7, "debt": 0}
    assert bob.client.get("/v1/credits").json["balance"] == 0


def test_history_pages_newest_first_with_an_opaque_cursor(alice, bob) -> None:  # type: ignore[no-untyped-def]
    # Given 7 grants to alice and one to bob
    for n in range(1, 8):
        ledger.grant(alice.id, n, reason=f"grant {n}")
    ledger.grant(bob.id, 99)

    # When alice reads her history three at a time
    pages, cursor = [], None
    while True:
        response = alice.client.get(
            "/v1/credits/history", query={"limit": "3", **({"cursor": cursor} if cursor else {})}
        )
        assert response.status == 200
        pages.append(response.json["items"])
        cursor = response.json["next_cursor"]
        if cursor is None:
            break

    # Then she sees all of hers, newest first, no overlap, and none of bob's
    assert [len(p) for p in pages] == [3, 3, 1]
    items = [i for p in pages for i in p]
    assert [i["delta"] for i in items] == [7, 6, 5, 4, 3, 2, 1]
    assert items[0]["balance_after"] == 28
    assert set(items[0]) == {
        "id",
        "delta",
        "kind",
        "reason",
        "reference",
        "balance_after",
        "reserved_after",
        "created_at",
    }


@pytest.mark.parametrize("query", [{"cursor": "not-a-cursor"}, {"cursor": "eyJ0IjogMX0"}, {"limit": "0"}])
def test_history_refuses_a_bad_cursor_or_limit_with_422(alice, query: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    response = alice.client.get("/v1/credits/history", query=query)

    assert response.status == 422
    assert response.error_code in {"invalid_input", "validation_failed"}


def test_admin_grants_credits(admin, alice) -> None:  # type: ignore[no-untyped-def]
    response = admin.client.post(
        f"/v1/admin/users/{alice.id}/credits", json_body={"amount": 25, "reason": "support ticket 12"}
    )

    assert response.status == 201
    assert response.json["credits"] == {"balance": 25, "reserved": 0, "available": 25, "debt": 0}
    assert response.json["entry"]["kind"] == "grant"
    assert response.json["entry"]["reference"].startswith(f"admin:{admin.id}:")
    assert alice.client.get("/v1/credits").json["available"] == 25


def test_admin_grant_with_an_idempotency_key_grants_once(admin, alice) -> None:  # type: ignore[no-untyped-def]
    body = {"amount": 10, "reason": "retry-safe", "idempotency_key": "ticket-7"}

    first = admin.client.post(f"/v1/admin/users/{alice.id}/credits", json_body=body)
    second = admin.client.post(f"/v1/admin/users/{alice.id}/credits", json_body=body)

    assert (first.status, second.status) == (201, 201)
    assert first.json["entry"]["id"] == second.json["entry"]["id"]
    assert ledger.balance(alice.id).balance == 10


def test_admin_grant_is_refused_to_members_unknown_users_and_bad_amounts(admin, alice, bob) -> None:  # type: ignore[no-untyped-def]
    path = f"/v1/admin/users/{bob.id}/credits"

    assert alice.client.post(path, json_body={"amount": 5, "reason": "x"}).status == 403
    missing = admin.client.post(f"/v1/admin/users/{uuid.uuid4()}/credits", json_body={"amount": 5, "reason": "x"})
    assert (missing.status, missing.error_code) == (404, "not_found")
    assert admin.client.post(path, json_body={"amount": 0, "reason": "x"}).status == 422
    assert admin.client.post(path, json_body={"amount": -5, "reason": "x"}).status == 422
    assert ledger.balance(bob.id).balance == 0
