"""Price presets and the sale queue end to end: API → Postgres, publish → queue → `sale.process` job → publisher."""

from __future__ import annotations

import random
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from shared.automations import sales
from shared.db import session
from shared.db.models import Automation, Item, PricePreset, Publisher, SaleQueueEntry
from shared.publishing import base as publishing_base
from shared.publishing.base import ItemSnapshot, PublishRejected, SaleResult, register
from shared.publishing.base import Publisher as BasePublisher
from tests.support.jobs import drain
from tests.support.sales import entry, no_backoff, sale_jobs

SELLS: list[dict[str, Any]] = []
BEHAVIOUR: dict[str, Any] = {"transient_failures": 0, "reject": False}


@register("test-sell")
class FlakySeller(BasePublisher):
    """Fails with a transient error as often as BEHAVIOUR says, or rejects, then sells."""

    def sell(self, item: ItemSnapshot, price_cents: int, currency: str) -> SaleResult:
        SELLS.append({"item": item.id, "price": price_cents, "currency": currency, "key": item.idempotency_key})
        if BEHAVIOUR["reject"]:
            raise PublishRejected("exclusives are not allowed for this account")
        if BEHAVIOUR["transient_failures"] > 0:
            BEHAVIOUR["transient_failures"] -= 1
            raise ConnectionError("platform timed out")
        return SaleResult(ok=True, details={"listing": "L-1"})


@pytest.fixture(autouse=True)
def _reset(monkeypatch: pytest.MonkeyPatch) -> None:
    SELLS.clear()
    BEHAVIOUR.update(transient_failures=0, reject=False)
    # publishers.kind is a closed set in the schema: the test rows are `custom`, served by the fake for this test only.
    monkeypatch.setitem(publishing_base._registry, "custom", FlakySeller)


def preset_row(user_id: uuid.UUID, **values: Any) -> PricePreset:
    with session() as s:
        preset = PricePreset(
            user_id=user_id, name=values.pop("name", "p"), price_cents=values.pop("price", 500), **values
        )
        s.add(preset)
        s.flush()
        return preset


def published_item(user_id: uuid.UUID, preset_id: uuid.UUID | None, *, auto: bool = True, kind: str = "custom"):  # type: ignore[no-untyped-def]
    """An automation (selling with `preset_id`), a publisher and an item the automation just published."""
    with session() as s:
        automation = Automation(user_id=user_id, name="a", auto_add_to_sale_queue=auto, sale_queue_preset_id=preset_id)
        publisher = Publisher(user_id=user_id, kind=kind, name="shop")
        s.add_all([automation, publisher])
        s.flush()
        item = Item(
            user_id=user_id,
            title="art",
            automation_id=automation.id,
            publisher_id=publisher.id,
            status="published",
            remote_id=f"r-{uuid.uuid4()}",
        )
        s.add(item)
        s.flush()
        return item


def queue(item: Item) -> SaleQueueEntry | None:
    with session() as s:
        return sales.queue_after_publish(s, s.get(Item, item.id))  # type: ignore[arg-type]


# --- presets ------------------------------------------------------------------------------------------------------


def test_a_fixed_and_a_range_preset_are_created_and_listed(alice) -> None:  # type: ignore[no-untyped-def]
    # Given/When: a fixed preset and a range preset without an explicit price
    fixed = alice.client.post("/v1/price-presets", json_body={"name": " Std ", "price_cents": 500, "currency": "eur"})
    ranged = alice.client.post(
        "/v1/price-presets", json_body={"name": "Rnd", "min_price_cents": 300, "max_price_cents": 900, "sort_order": 1}
    )

    # Then: both exist, normalised, the range's price is its lower end
    assert fixed.status == 201, fixed.body
    assert (fixed.json["name"], fixed.json["currency"], fixed.json["min_price_cents"]) == ("Std", "EUR", None)
    assert ranged.status == 201, ranged.body
    assert (ranged.json["price_cents"], ranged.json["currency"]) == (300, "USD")
    listed = alice.client.get("/v1/price-presets").json["items"]
    assert [p["name"] for p in listed] == ["Std", "Rnd"]


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "price_cents": -1},
        {"name": "x", "price_cents": 1.5},
        {"name": "x", "price_cents": 100, "min_price_cents": 10},
        {"name": "x", "min_price_cents": 900, "max_price_cents": 100},
        {"name": "x", "price_cents": 100, "currency": "US"},
        {"name": "x", "price_cents": 100, "currency": "U$D"},
        {"name": "x"},
        {"name": "", "price_cents": 1},
        {"name": "x", "price_cents": 1, "bogus": 1},
    ],
)
def test_invalid_presets_are_refused_with_422(alice, body) -> None:  # type: ignore[no-untyped-def]
    # When: a preset breaks a rule; Then: 422 and nothing stored
    response = alice.client.post("/v1/price-presets", json_body=body)
    assert response.status == 422, response.body
    assert alice.client.get("/v1/price-presets").json["items"] == []


def test_a_patch_is_validated_on_the_merged_preset(alice) -> None:  # type: ignore[no-untyped-def]
    # Given: a range preset
    created = alice.client.post(
        "/v1/price-presets", json_body={"name": "r", "min_price_cents": 1, "max_price_cents": 5}
    )
    pid = created.json["id"]

    # When/Then: a min above the existing max is refused, clearing the range makes it fixed
    assert alice.client.patch(f"/v1/price-presets/{pid}", json_body={"min_price_cents": 9}).status == 422
    fixed = alice.client.patch(
        f"/v1/price-presets/{pid}", json_body={"min_price_cents": None, "max_price_cents": None, "price_cents": 7}
    )
    assert fixed.status == 200, fixed.body
    assert (fixed.json["price_cents"], fixed.json["min_price_cents"], fixed.json["max_price_cents"]) == (7, None, None)


def test_one_default_per_user_and_switching_moves_it(alice, bob) -> None:  # type: ignore[no-untyped-def]
    # Given: alice's default A, bob's default
    a = alice.client.post("/v1/price-presets", json_body={"name": "A", "price_cents": 1, "is_default": True}).json
    bob.client.post("/v1/price-presets", json_body={"name": "B", "price_cents": 1, "is_default": True})

    # When: she creates B as default, then makes A default again by PATCH
    b = alice.client.post("/v1/price-presets", json_body={"name": "B", "price_cents": 2, "is_default": True}).json
    defaults = {p["name"]: p["is_default"] for p in alice.client.get("/v1/price-presets").json["items"]}
    assert defaults == {"A": False, "B": True}
    assert alice.client.patch(f"/v1/price-presets/{a['id']}", json_body={"is_default": True}).json["is_default"]

    # Then: exactly one default each, bob's untouched
    defaults = {p["id"]: p["is_default"] for p in alice.client.get("/v1/price-presets").json["items"]}
    assert defaults == {a["id"]: True, b["id"]: False}
    assert [p["is_default"] for p in bob.client.get("/v1/price-presets").json["items"]] == [True]


def test_presets_are_private(alice, bob) -> None:  # type: ignore[no-untyped-def]
    # Given: alice's preset
    pid = alice.client.post("/v1/price-presets", json_body={"name": "A", "price_cents": 1}).json["id"]

    # When/Then: bob neither sees, changes nor deletes it
    assert bob.client.get("/v1/price-presets").json["items"] == []
    assert bob.client.get(f"/v1/price-presets/{pid}").status == 404
    assert bob.client.patch(f"/v1/price-presets/{pid}", json_body={"name": "mine"}).status == 404
    assert bob.client.delete(f"/v1/price-presets/{pid}").status == 404
    assert alice.client.delete(f"/v1/price-presets/{pid}").status == 204
    assert alice.client.get(f"/v1/price-presets/{pid}").status == 404


def test_random_prices_stay_within_the_range() -> None:
    # Given: a range preset and a fixed one; When: many prices are drawn; Then: all within [min, max], both reached
    ranged = PricePreset(price_cents=100, min_price_cents=100, max_price_cents=104)
    rng = random.Random(7)
    drawn = {sales.compute_price(ranged, rng) for _ in range(300)}
    assert drawn == {100, 101, 102, 103, 104}
    assert sales.compute_price(PricePreset(price_cents=250, min_price_cents=None, max_price_cents=None)) == 250


# --- queueing -----------------------------------------------------------------------------------------------------


def test_publishing_queues_the_item_once_with_one_job(aws_env, alice) -> None:  # type: ignore[no-untyped-def]
    # Given: an automation that sells with a range preset, and an item it published
    preset = preset_row(alice.id, min_price_cents=200, max_price_cents=300, price=200)
    item = published_item(alice.id, preset.id)

    # When: the publishing code calls queue_after_publish twice (a retried publish)
    first, second = queue(item), queue(item)

    # Then: one pending entry with a price in range, one internal job
    assert first is not None
    assert second is None
    assert first.status == "pending"
    assert 200 <= first.price_cents <= 300
    jobs = sale_jobs()
    assert len(jobs) == 1
    assert jobs[0].dedupe_key == f"sale:{item.id}"
    assert jobs[0].payload == {"entry_id": str(first.id)}
    with session() as s:
        assert s.scalar(select(func.count()).select_from(SaleQueueEntry)) == 1


def test_items_of_automations_without_sale_queue_are_not_queued(aws_env, alice) -> None:  # type: ignore[no-untyped-def]
    # Given: an automation with the sale link off, and one with no preset
    preset = preset_row(alice.id)
    off, no_preset = published_item(alice.id, preset.id, auto=False), published_item(alice.id, None)

    # When/Then: nothing is queued
    assert queue(off) is None
    assert queue(no_preset) is None
    assert sale_jobs() == []


def test_the_job_retries_transient_failures_then_completes(aws_env, alice) -> None:  # type: ignore[no-untyped-def]
    # Given: a queued item whose publisher times out twice
    preset = preset_row(alice.id, price=750, currency="EUR")
    queued = queue(published_item(alice.id, preset.id))
    assert queued is not None
    BEHAVIOUR["transient_failures"] = 2
    no_backoff()

    # When: the worker runs the job until the queue is empty
    drain()

    # Then: the entry is completed after three attempts, each sale call with the same idempotency key
    done = entry(queued.id)
    assert (done.status, done.attempts) == ("completed", 3)
    assert done.completed_at is not None
    assert (done.error_message, done.error_details, done.processing_by) == (None, None, None)
    assert [(c["price"], c["currency"]) for c in SELLS] == [(750, "EUR")] * 3
    assert {c["key"] for c in SELLS} == {f"sale:{queued.id}"}
    job = sale_jobs()[0]
    assert (job.status, job.attempts) == ("completed", 3)


def test_a_rejected_sale_fails_with_details_and_can_be_retried(aws_env, alice, bob) -> None:  # type: ignore[no-untyped-def]
    # Given: a queued item whose publisher refuses the sale
    preset = preset_row(alice.id, price=100)
    queued = queue(published_item(alice.id, preset.id))
    assert queued is not None
    BEHAVIOUR["reject"] = True

    # When: the job runs
    drain()

    # Then: the entry failed at once with the refusal recorded; the job failed without retrying
    failed = alice.client.get("/v1/sale-queue", query={"status": "failed"}).json["items"]
    assert [e["id"] for e in failed] == [str(queued.id)]
    assert failed[0]["attempts"] == 1
    assert failed[0]["error_message"] == "exclusives are not allowed for this account"
    assert failed[0]["error_details"]["kind_of_error"] == "rejected"
    assert failed[0]["error_details"]["retryable"] is False
    assert sale_jobs()[0].status == "failed"
    assert len(SELLS) == 1

    # And: bob can neither see nor retry it
    assert bob.client.get("/v1/sale-queue").json["items"] == []
    assert bob.client.post(f"/v1/sale-queue/{queued.id}/retry").status == 404
    assert bob.client.delete(f"/v1/sale-queue/{queued.id}").status == 404

    # When: the platform accepts now and alice retries
    BEHAVIOUR["reject"] = False
    retried = alice.client.post(f"/v1/sale-queue/{queued.id}/retry")
    assert retried.status == 200, retried.body
    assert retried.json["status"] == "pending"
    assert len(sale_jobs()) == 2
    drain()

    # Then: it completes, attempts keep counting, and a second retry is refused
    done = alice.client.get(f"/v1/sale-queue/{queued.id}").json
    assert (done["status"], done["attempts"]) == ("completed", 2)
    assert alice.client.post(f"/v1/sale-queue/{queued.id}/retry").status == 409
    assert alice.client.delete(f"/v1/sale-queue/{queued.id}").status == 409


def test_a_skipped_entry_is_not_sold(aws_env, alice) -> None:  # type: ignore[no-untyped-def]
    # Given: a pending entry
    queued = queue(published_item(alice.id, preset_row(alice.id).id))
    assert queued is not None

    # When: alice skips it before the job runs
    skipped = alice.client.delete(f"/v1/sale-queue/{queued.id}")
    assert skipped.status == 200, skipped.body
    drain()

    # Then: it stays skipped and the publisher was never called
    assert entry(queued.id).status == "skipped"
    assert SELLS == []
    assert sale_jobs()[0].result["status"] == "not_taken"


def test_no_usable_publisher_skips_the_entry_with_a_reason(aws_env, alice, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # Given: an item whose publisher kind is not deployed
    monkeypatch.delitem(publishing_base._registry, "webhook", raising=False)
    queued = queue(published_item(alice.id, preset_row(alice.id).id, kind="webhook"))
    assert queued is not None

    # When: the job runs
    drain()

    # Then: skipped, with the reason
    skipped = entry(queued.id)
    assert skipped.status == "skipped"
    assert "not available" in (skipped.error_message or "")


def test_a_preset_in_use_cannot_be_deleted(aws_env, alice) -> None:  # type: ignore[no-untyped-def]
    preset = preset_row(alice.id)
    assert queue(published_item(alice.id, preset.id)) is not None
    response = alice.client.delete(f"/v1/price-presets/{preset.id}")
    assert response.status == 409
    assert response.error_code == "preset_in_use"


def test_the_queue_filter_rejects_unknown_statuses(alice) -> None:  # type: ignore[no-untyped-def]
    assert alice.client.get("/v1/sale-queue", query={"status": "sold"}).status == 422
    assert alice.client.get("/v1/sale-queue").json == {"items": [], "next_offset": None}
