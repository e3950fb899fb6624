"""Payment webhooks (Standard Webhooks): signatures, freshness, exactly-once grants, refunds and debt."""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import URL
from sqlalchemy.orm import sessionmaker

from shared.billing import ledger, payments
from shared.config import reset_settings
from shared.db import session
from shared.db.models import CreditLedger, Payment
from shared.errors import InsufficientCredits
from tests.support.api import ApiClient, ApiResponse

SECRET = "whsec_" + base64.b64encode(b"conveyor-test-webhook-secret-32b").decode()


@pytest.fixture
def secret(db: URL, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("CONVEYOR_PAYMENTS_WEBHOOK_SECRET", SECRET)
    reset_settings()
    yield SECRET
    monkeypatch.delenv("CONVEYOR_PAYMENTS_WEBHOOK_SECRET")
    reset_settings()


def event(kind: str = "payment.succeeded", payment_id: str = "pay_1", **data: Any) -> str:
    return json.dumps(
        {
            "type": kind,
            "data": {"payment_id": payment_id, "amount_cents": 1000, "currency": "EUR", "credits": 100, **data},
        }
    )


def deliver(api: ApiClient, body: str, *, headers: dict[str, str] | None = None, **sign: Any) -> ApiResponse:
    signed = headers if headers is not None else payments.signed_headers(SECRET, body, **sign)
    # API Gateway keeps the sender's header case; verification must not care.
    signed = {k.title(): v for k, v in signed.items()}
    return api.post("/v1/payments/webhook", body=body, headers={"Content-Type": "application/json", **signed})


def counts() -> tuple[int, int]:
    with session() as s:
        return (
            s.scalar(select(func.count()).select_from(Payment)) or 0,
            s.scalar(select(func.count()).select_from(CreditLedger)) or 0,
        )


def ledger_sum(user_id: uuid.UUID) -> int:
    with session() as s:
        total = s.scalar(select(func.coalesce(func.sum(CreditLedger.delta), 0)).where(CreditLedger.user_id == user_id))
    return int(total)


# --- verification ---------------------------------------------------------------------------------------------


def test_a_signed_payment_grants_its_credits(secret: str, api: ApiClient, alice) -> None:  # type: ignore[no-untyped-def]
    response = deliver(api, event(user_id=str(alice.id)))

    assert response.status == 200
    assert response.json["outcome"] == "granted"
    assert ledger.balance(alice.id) == ledger.Balance(100, 0, 100, 0)
    listed = alice.client.get("/v1/payments")
    assert listed.status == 200
    [item] = listed.json["items"]
    assert item["provider_payment_id"] == "pay_1"
    assert (item["status"], item["credits"], item["amount_cents"], item["currency"]) == ("succeeded", 100, 1000, "EUR")
    history = alice.client.get("/v1/credits/history").json["items"]
    assert [(h["kind"], h["delta"], h["reference"]) for h in history] == [
        ("purchase", 100, f"payment:{response.json['payment_id']}")
    ]


def test_the_customer_can_be_named_by_email(secret: str, api: ApiClient, alice) -> None:  # type: ignore[no-untyped-def]
    response = deliver(api, event(customer_email="ALICE@example.com"))

    assert response.status == 200
    assert ledger.balance(alice.id).balance == 100


def test_redelivery_grants_once(secret: str, api: ApiClient, alice) -> None:  # type: ignore[no-untyped-def]
    body = event(user_id=str(alice.id))

    outcomes = [deliver(api, body).json["outcome"] for _ in range(3)]

    assert outcomes == ["granted", "duplicate", "duplicate"]
    assert ledger.balance(alice.id).balance == 100
    assert counts() == (1, 1)


def test_a_bad_signature_is_401_and_stores_nothing(secret: str, api: ApiClient, alice) -> None:  # type: ignore[no-untyped-def]
    body = event(user_id=str(alice.id))
    forged = payments.signed_headers("whsec_" + base64.b64encode(b"someone-else").decode(), body)

    response = deliver(api, body, headers=forged)
    tampered = deliver(api, body.replace("100", "999"), headers=payments.signed_headers(SECRET, body))
    unsigned = deliver(api, body, headers={"webhook-id": "m", "webhook-timestamp": str(int(time.time()))})

    assert (response.status, response.error_code) == (401, "invalid_signature")
    assert (tampered.status, tampered.error_code) == (401, "invalid_signature")
    assert (unsigned.status, unsigned.error_code) == (401, "invalid_signature")
    assert counts() == (0, 0)


@pytest.mark.parametrize("offset", [-301, -3600, 301])
def test_a_stale_or_future_timestamp_is_400_and_stores_nothing(secret: str, api: ApiClient, alice, offset: int) -> None:  # type: ignore[no-untyped-def]
    response = deliver(api, event(user_id=str(alice.id)), timestamp=int(time.time()) + offset)

    assert (response.status, response.error_code) == (400, "stale_webhook")
    assert counts() == (0, 0)


def test_a_missing_timestamp_is_400(secret: str, api: ApiClient, alice) -> None:  # type: ignore[no-untyped-def]
    body = event(user_id=str(alice.id))
    headers = payments.signed_headers(SECRET, body)
    del headers["webhook-timestamp"]

    response = deliver(api, body, headers=headers)

    assert (response.status, response.error_code) == (400, "stale_webhook")
    assert counts() == (0, 0)


def test_without_a_configured_secret_webhooks_are_503(api: ApiClient, alice) -> None:  # type: ignore[no-untyped-def]
    response = deliver(api, event(user_id=str(alice.id)))

    assert response.status == 503
    assert counts() == (0, 0)


def test_an_unknown_user_is_422_and_stores_nothing(secret: str, api: ApiClient) -> None:
    unknown = deliver(api, event(user_id=str(uuid.uuid4())))
    nobody = deliver(api, event(payment_id="pay_2"))
    invalid = deliver(api, json.dumps({"type": "payment.succeeded", "data": {"payment_id": "p", "user_id": "x"}}))

    assert (unknown.status, unknown.error_code) == (422, "unknown_user")
    assert nobody.status == 422
    assert invalid.status == 422
    assert counts() == (0, 0)


def test_a_signed_body_that_is_not_json_is_422(secret: str, api: ApiClient) -> None:
    response = deliver(api, "not json")

    assert (response.status, response.error_code) == (422, "invalid_input")
    assert counts() == (0, 0)


def test_other_event_types_are_acknowledged_and_ignored(secret: str, api: ApiClient) -> None:
    response = deliver(api, json.dumps({"type": "customer.created", "data": {}}))

    assert (response.status, response.json["outcome"]) == (200, "ignored")
    assert counts() == (0, 0)


def test_a_base64_encoded_body_is_verified_on_its_bytes(secret: str, api: ApiClient, alice) -> None:  # type: ignore[no-untyped-def]
    body = event(user_id=str(alice.id))
    headers = {k.title(): v for k, v in payments.signed_headers(SECRET, body).items()}

    # A content type API Gateway treats as binary arrives base64-encoded
    response = api.post(
        "/v1/payments/webhook", body=body.encode(), headers={"Content-Type": "application/octet-stream", **headers}
    )

    assert response.status == 200
    assert ledger.balance(alice.id).balance == 100


def test_a_signed_body_that_is_not_utf8_is_400_malformed_body(secret: str, api: ApiClient) -> None:
    # Given bytes that are not UTF-8, signed as the provider signs them (over the exact bytes)
    body = b'{"type": "payment.succeeded", "data": {"payment_id": "pay_\xff"}}'
    headers = {k.title(): v for k, v in payments.signed_headers(SECRET, body).items()}

    # When they arrive (API Gateway base64-encodes a body that is not UTF-8 text)
    response = api.post("/v1/payments/webhook", body=body, headers={"Content-Type": "application/json", **headers})

    # Then the signature holds and the body is refused as unreadable, not as forged
    assert (response.status, response.error_code) == (400, "malformed_body")
    assert counts() == (0, 0)


def test_an_unsigned_body_that_is_not_utf8_is_401_before_it_is_read(secret: str, api: ApiClient) -> None:
    body = b'{"type": "payment.succeeded", "data": {"payment_id": "pay_\xff"}}'
    forged = payments.signed_headers("whsec_" + base64.b64encode(b"someone-else").decode(), body)

    response = api.post("/v1/payments/webhook", body=body, headers={"Content-Type": "application/json", **forged})

    assert (response.status, response.error_code) == (401, "invalid_signature")


def test_our_signatures_are_the_standard_webhooks_library_s() -> None:
    """Verification signs the raw bytes itself (the library decodes them first); for text both must agree."""
    from datetime import UTC, datetime

    from standardwebhooks.webhooks import Webhook

    body = event(customer_email="é@example.com")
    ours = payments.signed_headers(SECRET, body, msg_id="msg_1", timestamp=1_700_000_000)

    reference = Webhook(SECRET).sign("msg_1", datetime.fromtimestamp(1_700_000_000, tz=UTC), body)

    assert ours["webhook-signature"] == reference


# --- state transitions ----------------------------------------------------------------------------------------


def test_a_failed_then_succeeded_payment_grants_once(secret: str, api: ApiClient, alice) -> None:  # type: ignore[no-untyped-def]
    assert deliver(api, event("payment.failed", user_id=str(alice.id))).json["outcome"] == "failed"
    assert ledger.balance(alice.id).balance == 0

    assert deliver(api, event(user_id=str(alice.id))).json["outcome"] == "granted"
    assert deliver(api, event("payment.failed", user_id=str(alice.id))).json["outcome"] == "duplicate"

    assert ledger.balance(alice.id).balance == 100
    assert alice.client.get("/v1/payments").json["items"][0]["status"] == "succeeded"


def test_a_refund_takes_the_credits_back(secret: str, api: ApiClient, alice) -> None:  # type: ignore[no-untyped-def]
    deliver(api, event(user_id=str(alice.id)))
    ledger.grant(alice.id, 5, reason="bonus")

    first = deliver(api, event("payment.refunded", user_id=str(alice.id)))
    again = deliver(api, event("payment.refunded", user_id=str(alice.id)))

    assert (first.json["outcome"], again.json["outcome"]) == ("refunded", "duplicate")
    assert ledger.balance(alice.id) == ledger.Balance(5, 0, 5, 0)
    assert ledger_sum(alice.id) == 5
    [item] = alice.client.get("/v1/payments").json["items"]
    assert (item["status"], item["unrecovered_credits"]) == ("refunded", 0)


def test_a_refund_before_the_success_means_no_credits_ever(secret: str, api: ApiClient, alice) -> None:  # type: ignore[no-untyped-def]
    # Deliveries arrive out of order: the refund first
    assert deliver(api, event("payment.refunded", user_id=str(alice.id))).json["outcome"] == "refunded"
    assert deliver(api, event(user_id=str(alice.id))).json["outcome"] == "duplicate"

    assert ledger.balance(alice.id) == ledger.Balance(0, 0, 0, 0)


def test_a_refund_after_spending_leaves_debt_that_blocks_and_is_collected(secret: str, api: ApiClient, alice) -> None:  # type: ignore[no-untyped-def]
    # Given 100 purchased credits, of which 60 were spent and 10 are held by a running job
    deliver(api, event(user_id=str(alice.id)))
    ledger.reserve(alice.id, 60, "job:spent")
    ledger.capture("job:spent")
    ledger.reserve(alice.id, 10, "job:running")

    # When the payment is refunded
    deliver(api, event("payment.refunded", user_id=str(alice.id)))

    # Then only the 30 available credits are taken; 70 are owed; the running job keeps its 10
    assert ledger.balance(alice.id) == ledger.Balance(balance=10, reserved=10, available=0, debt=70)
    assert ledger_sum(alice.id) == 10
    assert alice.client.get("/v1/credits").json == {"balance": 10, "reserved": 10, "available": 0, "debt": 70}
    assert alice.client.get("/v1/payments").json["items"][0]["unrecovered_credits"] == 70
    with pytest.raises(InsufficientCredits) as caught:
        ledger.reserve(alice.id, 1, "job:blocked")
    assert caught.value.details["debt"] == 70

    # When the running job fails, its released credits pay the debt first
    ledger.release("job:running")
    assert ledger.balance(alice.id) == ledger.Balance(0, 0, 0, 60)

    # And a later grant pays the rest; only the surplus is available
    ledger.grant(alice.id, 100, reason="goodwill")
    assert ledger.balance(alice.id) == ledger.Balance(40, 0, 40, 0)
    assert ledger_sum(alice.id) == 40
    assert alice.client.get("/v1/payments").json["items"][0]["unrecovered_credits"] == 0
    kinds = Counter(h["kind"] for h in alice.client.get("/v1/credits/history").json["items"])
    assert kinds["refund"] == 3  # the refund, then two collections


# --- lists ----------------------------------------------------------------------------------------------------


def test_payments_are_listed_per_caller_and_paginated(secret: str, api: ApiClient, alice, bob) -> None:  # type: ignore[no-untyped-def]
    for n in range(5):
        deliver(api, event(payment_id=f"pay_{n}", user_id=str(alice.id)))
    deliver(api, event(payment_id="pay_bob", user_id=str(bob.id)))

    first = alice.client.get("/v1/payments", query={"limit": "3"}).json
    second = alice.client.get("/v1/payments", query={"limit": "3", "cursor": first["next_cursor"]}).json

    assert [p["provider_payment_id"] for p in first["items"] + second["items"]] == [
        f"pay_{n}" for n in range(4, -1, -1)
    ]
    assert second["next_cursor"] is None
    assert [p["provider_payment_id"] for p in bob.client.get("/v1/payments").json["items"]] == ["pay_bob"]
    assert alice.client.get("/v1/payments", query={"cursor": "%%%"}).status == 422


# --- concurrency ----------------------------------------------------------------------------------------------


def test_the_same_webhook_delivered_50_times_at_once_grants_once(secret: str, db: URL, alice) -> None:  # type: ignore[no-untyped-def]
    # Given one signed delivery, sent 50 times concurrently, each on its own database connection
    deliveries = 50
    body = event(payment_id="pay_storm", user_id=str(alice.id))
    headers = payments.signed_headers(SECRET, body)
    engine = create_engine(db, pool_size=deliveries, max_overflow=0, pool_timeout=60)
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    start = threading.Barrier(deliveries)
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def deliver_once() -> None:
        with engine.connect() as conn:  # connect before the start line so the deliveries really overlap
            conn.exec_driver_sql("SELECT 1")
        start.wait(timeout=60)
        try:
            with factory.begin() as s:
                result = payments.handle_webhook(body, headers, s=s).outcome
        except Exception as exc:  # anything else is a failure the test reports
            result = f"error: {exc!r}"
        with lock:
            outcomes[result] += 1

    # When
    threads = [threading.Thread(target=deliver_once) for _ in range(deliveries)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    finally:
        engine.dispose()

    # Then the credits were granted exactly once
    assert outcomes == Counter({"granted": 1, "duplicate": deliveries - 1})
    assert ledger.balance(alice.id) == ledger.Balance(100, 0, 100, 0)
    assert counts() == (1, 1)
    assert ledger_sum(alice.id) == 100
