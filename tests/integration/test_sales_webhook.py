"""Sales through the built-in webhook publisher: a signed `item.sale` POST to a real local receiver that verifies
the Standard Webhooks signature, and the receiver's answer recorded on the sale-queue entry.

Real Postgres, moto (SQS carries the wake-ups), the real worker; the receiver is a ThreadingHTTPServer on
127.0.0.1, allowed through CONVEYOR_WEBHOOK_ALLOWED_HOSTS like the laptop stack does.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from shared import webhooks
from shared.automations import sales
from shared.db import session
from shared.db.models import Automation, Item, Job, PricePreset, Publisher, SaleQueueEntry
from shared.jobs.service import create_job
from tests.conftest import reconfigure
from tests.support.http import local_server, read_body, reply
from tests.support.jobs import drain
from tests.support.sales import entry, no_backoff, sale_jobs
from tests.support.users import TestUser


class Receiver:
    """The user's bridge to their shop: verifies each signature, answers the queued (status, JSON body) pairs."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.answers: list[tuple[int, dict[str, Any]]] = []
        self.secret = ""
        self.url = ""
        self.bad_signatures = 0


@pytest.fixture
def receiver(aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    monkeypatch.setenv("CONVEYOR_WEBHOOK_ALLOWED_HOSTS", '["127.0.0.1"]')
    reconfigure()
    rec = Receiver()
    lock = threading.Lock()

    def handle(request: BaseHTTPRequestHandler) -> None:
        raw = read_body(request)
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            body = Webhook(rec.secret).verify(raw, headers)
        except Exception:
            rec.bad_signatures += 1
            body = json.loads(raw)
        with lock:
            rec.requests.append((headers, body))
            status, answer = rec.answers.pop(0) if rec.answers else (200, {"status": "completed"})
        reply(request, status, json.dumps(answer).encode(), {"Content-Type": "application/json"})

    with local_server(handle) as base:
        rec.url = f"{base}/conveyor/sell"
        yield rec
    monkeypatch.delenv("CONVEYOR_WEBHOOK_ALLOWED_HOSTS")
    reconfigure()


def queued_sale(user: TestUser, rec: Receiver, *, price: int = 1250, currency: str = "EUR") -> SaleQueueEntry:
    """A webhook publisher at the receiver, a preset, and an item its automation just published, queued for sale."""
    rec.secret = webhooks.rotate_secret(user.id).secret
    with session() as s:
        preset = PricePreset(user_id=user.id, name="Standard", price_cents=price, currency=currency)
        s.add(preset)
        s.flush()
        automation = Automation(user_id=user.id, name="a", auto_add_to_sale_queue=True, sale_queue_preset_id=preset.id)
        publisher = Publisher(user_id=user.id, kind="webhook", name="shop", endpoint_url=rec.url)
        s.add_all([automation, publisher])
        s.flush()
        item = Item(
            user_id=user.id,
            title="art",
            automation_id=automation.id,
            publisher_id=publisher.id,
            status="published",
            remote_id=f"r-{uuid.uuid4()}",
        )
        s.add(item)
        s.flush()
        queued = sales.queue_after_publish(s, item)
    assert queued is not None
    return queued


def test_a_completed_sale_is_signed_and_recorded_with_its_proof(alice, receiver) -> None:  # type: ignore[no-untyped-def]
    # Given: a queued sale; the receiver sells and returns a screenshot URL
    queued = queued_sale(alice, receiver)
    proof = "https://shop.example/proof/1.png"
    receiver.answers = [(200, {"status": "completed", "screenshot_url": proof})]

    # When: the worker runs the sale job
    drain()

    # Then: one signed item.sale call with the price, preset, entry and a stable idempotency key
    assert receiver.bad_signatures == 0
    [(headers, body)] = receiver.requests
    key = f"sale:{queued.id}"
    assert (headers["webhook-id"], headers["idempotency-key"], body["idempotency_key"]) == (key, key, key)
    assert body["type"] == "item.sale"
    with session() as s:
        item = s.get(Item, queued.item_id)
        assert item is not None
        preset = s.get(PricePreset, queued.price_preset_id)
        assert preset is not None
    assert body["item"]["id"] == str(item.id)
    assert body["item"]["remote_id"] == item.remote_id
    assert body["sale"] == {
        "entry_id": str(queued.id),
        "price_cents": 1250,
        "currency": "EUR",
        "preset": {"id": str(preset.id), "name": "Standard"},
    }
    # And: the entry is completed with the proof, the API shows it
    done = entry(queued.id)
    assert (done.status, done.attempts, done.screenshot_key) == ("completed", 1, proof)
    assert (done.error_message, done.error_details, done.processing_by) == (None, None, None)
    shown = alice.client.get(f"/v1/sale-queue/{queued.id}").json
    assert (shown["status"], shown["attempts"]) == ("completed", 1)
    assert sale_jobs()[0].status == "completed"


def test_a_failed_sale_records_the_receivers_reason_without_retrying(alice, receiver) -> None:  # type: ignore[no-untyped-def]
    # Given: the receiver declines the sale with a reason
    queued = queued_sale(alice, receiver)
    receiver.answers = [(200, {"status": "failed", "reason": "listing is not eligible for sale"})]
    no_backoff()

    # When
    drain()

    # Then: failed with the reason, once, no proof; the job failed without retrying
    failed = alice.client.get(f"/v1/sale-queue/{queued.id}").json
    assert (failed["status"], failed["attempts"]) == ("failed", 1)
    assert failed["error_message"] == "listing is not eligible for sale"
    assert failed["error_details"]["kind_of_error"] == "declined"
    assert failed["error_details"]["retryable"] is False
    assert entry(queued.id).screenshot_key is None
    assert len(receiver.requests) == 1
    assert sale_jobs()[0].status == "failed"


def test_a_5xx_is_retried_with_the_same_key_then_completes(alice, receiver) -> None:  # type: ignore[no-untyped-def]
    # Given: the receiver is down once (503), then sells
    queued = queued_sale(alice, receiver)
    receiver.answers = [(503, {"error": "busy"}), (200, {"status": "completed"})]
    no_backoff()

    # When
    drain()

    # Then: two signed calls with the same webhook-id; completed after two attempts, the error cleared
    assert receiver.bad_signatures == 0
    assert [h["webhook-id"] for h, _ in receiver.requests] == [f"sale:{queued.id}"] * 2
    done = entry(queued.id)
    assert (done.status, done.attempts, done.error_message, done.screenshot_key) == ("completed", 2, None, None)
    job = sale_jobs()[0]
    assert (job.status, job.attempts) == ("completed", 2)


def test_a_transient_failure_is_recorded_with_a_safe_message(alice, receiver) -> None:  # type: ignore[no-untyped-def]
    # Given: the receiver answers 502 on every attempt
    queued = queued_sale(alice, receiver)
    receiver.answers = [(502, {"error": "upstream"})] * 3
    no_backoff()

    # When: the job runs out of attempts
    drain()

    # Then: failed with the HTTP status as the message (never exception text), retryable, three calls
    failed = entry(queued.id)
    assert (failed.status, failed.attempts) == ("failed", 3)
    assert (failed.error_message or "").startswith("HTTP 502")
    assert failed.error_details is not None
    assert (failed.error_details["kind_of_error"], failed.error_details["retryable"]) == ("transient", True)
    assert len(receiver.requests) == 3


def test_a_4xx_is_final(alice, receiver) -> None:  # type: ignore[no-untyped-def]
    # Given: the receiver refuses the request (422)
    queued = queued_sale(alice, receiver)
    receiver.answers = [(422, {"error": "unknown item"})]
    no_backoff()

    # When
    drain()

    # Then: failed at once, rejected, one call
    failed = entry(queued.id)
    assert (failed.status, failed.attempts) == ("failed", 1)
    assert (failed.error_message or "").startswith("the endpoint refused the sale: HTTP 422")
    assert failed.error_details is not None
    assert failed.error_details["kind_of_error"] == "rejected"
    assert len(receiver.requests) == 1
    assert sale_jobs()[0].status == "failed"


def test_a_redelivered_or_duplicate_job_does_not_sell_twice(alice, receiver) -> None:  # type: ignore[no-untyped-def]
    # Given: a sale that completed
    queued = queued_sale(alice, receiver)
    drain()
    assert entry(queued.id).status == "completed"

    # When: a second job for the same entry runs (a re-sent message, a racing retry) and the wake-ups come again
    extra = create_job(user_id=alice.id, type=sales.process_sale, payload={"entry_id": str(queued.id)}).job
    drain()
    drain()

    # Then: the receiver was called once, the entry still records one attempt
    assert len(receiver.requests) == 1
    done = entry(queued.id)
    assert (done.status, done.attempts) == ("completed", 1)
    with session() as s:
        again = s.get(Job, extra.id)
        assert again is not None
    assert (again.status, again.result["status"]) == ("completed", "not_taken")


def test_an_unreadable_2xx_is_retried(alice, receiver) -> None:  # type: ignore[no-untyped-def]
    # Given: the receiver answers 200 without a status once, then sells
    queued = queued_sale(alice, receiver)
    receiver.answers = [(200, {"ok": True}), (200, {"status": "completed", "screenshot_url": "http://x.test/a"})]
    no_backoff()

    # When
    drain()

    # Then: completed on the second attempt; a non-https proof URL is not recorded
    done = entry(queued.id)
    assert (done.status, done.attempts, done.screenshot_key) == ("completed", 2, None)
