"""Publishing: publishers API, the built-in webhook publisher against a local "platform", and exactly-once publishing
through the real worker (retries, overlapping scheduler ticks, duplicate runs, past-due recovery, refusals).

Real Postgres, moto (S3 presigns, SQS carries the wake-ups). The platform is a ThreadingHTTPServer on 127.0.0.1,
allowed through CONVEYOR_WEBHOOK_ALLOWED_HOSTS like the laptop stack does.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from sqlalchemy import func, select, update
from standardwebhooks.webhooks import Webhook

from shared import webhooks
from shared.db import session
from shared.db.models import Item, Job, JobLog
from shared.jobs.service import create_job
from shared.publishing import items
from shared.publishing.base import ItemSnapshot, Publisher, PublishResult, _registry, register
from tests.conftest import reconfigure
from tests.integration.test_items import future, new_item, ready_media
from tests.support.http import local_server, read_body, reply
from tests.support.jobs import drain
from tests.support.users import TestUser


class Platform:
    """A fake social platform behind the user's endpoint: verifies signatures, answers the queued statuses."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.statuses: list[int] = []
        self.secret = ""
        self.url = ""
        self.bad_signatures = 0
        self.fixed_id: str | None = None


@pytest.fixture
def platform(aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Platform]:
    monkeypatch.setenv("CONVEYOR_WEBHOOK_ALLOWED_HOSTS", '["127.0.0.1"]')
    reconfigure()
    plat = Platform()
    lock = threading.Lock()

    def handle(request: BaseHTTPRequestHandler) -> None:
        raw = read_body(request)
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            body = Webhook(plat.secret).verify(raw, headers)
        except Exception:
            plat.bad_signatures += 1
            body = json.loads(raw)
        with lock:
            plat.requests.append((headers, body))
            status = plat.statuses.pop(0) if plat.statuses else 201
        if 200 <= status < 300:
            remote = plat.fixed_id or f"post-{body['item']['id'][:8]}"
            answer = json.dumps({"id": remote, "url": f"https://platform.test/{remote}"}).encode()
        else:
            answer = b'{"error": "busy"}' if status >= 500 else b'{"error": "no"}'
        reply(request, status, answer, {"Content-Type": "application/json"})

    with local_server(handle) as base:
        plat.url = f"{base}/conveyor/publish"
        yield plat
    monkeypatch.delenv("CONVEYOR_WEBHOOK_ALLOWED_HOSTS")
    reconfigure()


def with_publisher(user: TestUser, plat: Platform) -> dict:
    plat.secret = webhooks.rotate_secret(user.id).secret
    r = user.client.post("/v1/publishers", json_body={"kind": "webhook", "name": "my site", "endpoint_url": plat.url})
    assert r.status == 201, r.json
    return r.json


def due_item(user: TestUser, *, late: timedelta = timedelta(seconds=1), files: int = 1) -> str:
    """A scheduled item with files whose actual_publish_at passed `late` ago."""
    item = new_item(user, tags=["a"])
    for n in range(files):
        user.client.post(f"/v1/items/{item['id']}/files", json_body={"media_id": ready_media(user, f"p{n}.png")})
    assert user.client.post(f"/v1/items/{item['id']}/schedule", json_body={"scheduled_at": future()}).status == 200
    with session() as s:
        s.execute(
            update(Item)
            .where(Item.id == uuid.UUID(item["id"]))
            .values(actual_publish_at=func.now() - late, scheduled_at=func.now() - late)
        )
    return item["id"]


def publish_jobs(item_id: str) -> list[Job]:
    with session() as s:
        query = select(Job).where(Job.type == items.PUBLISH_TYPE, Job.payload["item_id"].astext == item_id)
        return list(s.scalars(query.order_by(Job.created_at)))


def fast_retries() -> None:
    """Retries due at once (the backoff itself is the job engine's, tested elsewhere)."""
    with session() as s:
        s.execute(update(Job).where(Job.type == items.PUBLISH_TYPE).values(retry_base_ms=0, retry_cap_ms=0))


def item_row(item_id: str) -> Item:
    with session() as s:
        row = s.get(Item, uuid.UUID(item_id))
    assert row is not None
    return row


def logs(job_id: uuid.UUID) -> list[str]:
    with session() as s:
        return list(s.scalars(select(JobLog.message).where(JobLog.job_id == job_id).order_by(JobLog.created_at)))


# --- publishers API ---------------------------------------------------------------------------------------------


def test_publishers_crud_guard_and_isolation(alice, bob, platform) -> None:  # type: ignore[no-untyped-def]
    created = with_publisher(alice, platform)
    path = f"/v1/publishers/{created['id']}"

    assert created["kind"] == "webhook"
    assert created["enabled"] is True
    assert [p["id"] for p in alice.client.get("/v1/publishers").json["items"]] == [created["id"]]
    assert alice.client.patch(path, json_body={"enabled": False}).json["enabled"] is False
    # Unsafe URLs, missing URLs, kinds without an installed class and unknown kinds are refused
    bad_url = alice.client.post(
        "/v1/publishers", json_body={"kind": "webhook", "name": "x", "endpoint_url": "https://10.0.0.1/hook"}
    )
    assert (bad_url.status, bad_url.error_code) == (422, "webhook_url_not_allowed")
    assert alice.client.patch(path, json_body={"endpoint_url": "https://169.254.169.254/"}).status == 422
    assert alice.client.post("/v1/publishers", json_body={"kind": "webhook", "name": "x"}).status == 422
    missing = alice.client.post("/v1/publishers", json_body={"kind": "deviantart", "name": "x"})
    assert missing.error_code == "publisher_kind_unavailable"
    assert alice.client.post("/v1/publishers", json_body={"kind": "myspace", "name": "x"}).status == 422
    # Bob sees nothing of it and cannot point his item at it
    assert bob.client.get(path).status == 404
    assert bob.client.delete(path).status == 404
    assert bob.client.post("/v1/items", json_body={"title": "x", "publisher_id": created["id"]}).status == 404
    assert alice.client.delete(path).status == 204
    assert alice.client.get("/v1/publishers").json["items"] == []


# --- exactly-once publishing through the worker -----------------------------------------------------------------


def test_a_publisher_failing_twice_then_succeeding_publishes_once(alice, platform) -> None:  # type: ignore[no-untyped-def]
    # Given a webhook publisher that answers 503 twice, then succeeds, and a due item with two files
    with_publisher(alice, platform)
    item_id = due_item(alice, files=2)
    platform.statuses = [503, 503]

    # When the scheduler ticks and the worker runs the job (and its retries)
    assert items.start_due_publishing() == 1
    fast_retries()
    drain()

    # Then the item is published once, with the remote id and url from the platform
    row = item_row(item_id)
    assert row.status == "published"
    assert row.remote_id == f"post-{item_id[:8]}"
    assert row.remote_url == f"https://platform.test/{row.remote_id}"
    assert row.post_count_incremented is True
    assert (row.retry_count, row.execution_lock_id, row.execution_version) == (2, None, 3)  # one per run
    assert row.published_at is not None
    assert row.last_retry_at is not None
    [job] = publish_jobs(item_id)
    assert (job.status, job.attempts) == ("completed", 3)
    assert job.result["remote_id"] == row.remote_id
    # And the platform saw three signed requests with the same idempotency key, files as presigned links
    assert len(platform.requests) == 3
    assert platform.bad_signatures == 0
    keys = {(h["idempotency-key"], h["webhook-id"], b["idempotency_key"]) for h, b in platform.requests}
    assert keys == {(f"item:{item_id}",) * 3}
    body = platform.requests[-1][1]
    assert body["item"]["title"] == "Sunset"
    assert body["item"]["tags"] == ["a"]
    assert [f["filename"] for f in body["item"]["files"]] == ["p0.png", "p1.png"]
    assert all("X-Amz-Expires=900" in f["url"] for f in body["item"]["files"])
    # And a later tick starts nothing
    assert items.start_due_publishing() == 0


def test_two_overlapping_ticks_start_one_job_and_publish_once(alice, platform) -> None:  # type: ignore[no-untyped-def]
    with_publisher(alice, platform)
    item_ids = [due_item(alice) for _ in range(3)]
    barrier = threading.Barrier(2)
    started: list[int] = []

    def tick() -> None:
        barrier.wait()
        started.append(items.start_due_publishing())

    threads = [threading.Thread(target=tick) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    drain()

    assert sum(started) == 3
    for item_id in item_ids:
        assert len(publish_jobs(item_id)) == 1
        assert item_row(item_id).status == "published"
    assert sorted(b["item"]["id"] for _, b in platform.requests) == sorted(item_ids)


def test_duplicate_jobs_and_deliveries_call_the_publisher_once(alice, platform) -> None:  # type: ignore[no-untyped-def]
    with_publisher(alice, platform)
    item_id = due_item(alice)
    items.start_due_publishing()
    # A second job for the same item (e.g. publish-now racing the tick, or a re-sent message) ...
    extra = create_job(user_id=alice.id, type=items.PUBLISH, payload={"item_id": item_id}).job

    drain()
    drain()  # ... and the wake-ups delivered again

    assert len(platform.requests) == 1
    jobs = publish_jobs(item_id)
    assert [j.status for j in jobs] == ["completed", "completed"]
    assert sorted(bool(j.result.get("skipped")) for j in jobs) == [False, True]
    assert item_row(item_id).execution_version == 1
    [skipped] = [j for j in jobs if j.result.get("skipped")]
    assert skipped.id in {extra.id, jobs[0].id}
    assert any("nothing to publish" in m for m in logs(skipped.id))


def test_a_past_due_item_is_published_late_once_and_the_log_says_so(alice, platform) -> None:  # type: ignore[no-untyped-def]
    # Given an item that was due an hour ago (the scheduler was down)
    with_publisher(alice, platform)
    item_id = due_item(alice, late=timedelta(hours=1))

    # When the scheduler comes back and ticks (twice, for good measure)
    assert items.start_due_publishing() == 1
    assert items.start_due_publishing() == 0
    drain()

    # Then it is published once, and the job says it was late by about an hour
    [job] = publish_jobs(item_id)
    assert 3590 <= job.payload["late_by_s"] <= 3700
    assert item_row(item_id).status == "published"
    assert len(platform.requests) == 1
    assert any(m.startswith("published late after an outage") for m in logs(job.id))


def test_a_refusal_fails_the_item_without_retrying(alice, platform) -> None:  # type: ignore[no-untyped-def]
    with_publisher(alice, platform)
    item_id = due_item(alice)
    platform.statuses = [422]

    items.start_due_publishing()
    fast_retries()
    drain()

    row = item_row(item_id)
    assert row.status == "failed"
    assert "HTTP 422" in (row.error_message or "")
    assert (row.remote_id, row.execution_lock_id, row.post_count_incremented) == (None, None, False)
    [job] = publish_jobs(item_id)
    assert (job.status, job.attempts) == ("failed", 1)
    assert len(platform.requests) == 1
    # The user can try again: publish-now schedules it for now and starts a job
    r = alice.client.post(f"/v1/items/{item_id}/publish-now")
    assert r.status == 202, r.json
    drain()
    assert item_row(item_id).status == "published"


def test_transient_errors_on_the_last_attempt_fail_the_item_and_free_it(alice, platform) -> None:  # type: ignore[no-untyped-def]
    with_publisher(alice, platform)
    item_id = due_item(alice)
    platform.statuses = [503] * 10

    items.start_due_publishing()
    with session() as s:
        s.execute(update(Job).where(Job.type == items.PUBLISH_TYPE).values(max_attempts=2))
    fast_retries()
    drain()

    row = item_row(item_id)
    assert row.status == "failed"
    assert row.execution_lock_id is None
    assert "gave up after 2 attempts" in (row.error_message or "")
    assert len(platform.requests) == 2


def test_no_publisher_fails_the_item_with_a_reason(alice, aws_env) -> None:  # type: ignore[no-untyped-def]
    item_id = due_item(alice)

    items.start_due_publishing()
    drain()

    assert item_row(item_id).status == "failed"
    assert "No enabled publisher" in (item_row(item_id).error_message or "")


def test_a_remote_id_is_never_recorded_on_two_items(alice, platform) -> None:  # type: ignore[no-untyped-def]
    with_publisher(alice, platform)
    first, second = due_item(alice, late=timedelta(seconds=10)), due_item(alice)
    platform.fixed_id = "same-post"

    items.start_due_publishing()
    drain()

    statuses = sorted([item_row(first).status, item_row(second).status])
    assert statuses == ["failed", "published"]


def test_a_stale_lock_whose_job_is_gone_is_taken_over(alice, platform) -> None:  # type: ignore[no-untyped-def]
    # Given an item a publish run claimed 20 minutes ago, whose job is no longer active
    with_publisher(alice, platform)
    item_id = due_item(alice)
    with session() as s:
        s.execute(
            update(Item)
            .where(Item.id == uuid.UUID(item_id))
            .values(
                status="publishing",
                execution_lock_id=str(uuid.uuid4()),
                execution_locked_at=datetime.now(UTC) - timedelta(minutes=20),
                execution_version=1,
            )
        )

    # When the scheduler ticks, Then a recovery job publishes it (with the same idempotency key)
    assert items.start_due_publishing() == 1
    drain()

    row = item_row(item_id)
    assert (row.status, row.execution_version) == ("published", 2)
    assert platform.requests[0][0]["idempotency-key"] == f"item:{item_id}"


def test_unscheduling_before_the_job_runs_publishes_nothing(alice, platform) -> None:  # type: ignore[no-untyped-def]
    # Given a due item whose publish job is queued
    with_publisher(alice, platform)
    item_id = due_item(alice)
    assert items.start_due_publishing() == 1

    # When the user unschedules it before a worker picks the job up
    assert alice.client.post(f"/v1/items/{item_id}/unschedule").json["status"] == "draft"
    drain()

    # Then the job finds nothing to claim and the platform hears nothing
    assert platform.requests == []
    assert item_row(item_id).status == "draft"
    [job] = publish_jobs(item_id)
    assert job.result["skipped"] is True


def test_a_deployment_publisher_in_one_module_publishes_through_the_same_path(alice, aws_env) -> None:  # type: ignore[no-untyped-def]
    # Given a deployment's own platform client, registered under a plugin name and configured as a `custom` publisher
    calls: list[ItemSnapshot] = []

    @register("test-platform")
    class TestPlatform(Publisher):
        def publish(self, item: ItemSnapshot) -> PublishResult:
            calls.append(item)
            return PublishResult(remote_id=f"tp-{item.id}", remote_url=None)

    try:
        r = alice.client.post(
            "/v1/publishers", json_body={"kind": "custom", "name": "tp", "settings": {"plugin": "test-platform"}}
        )
        assert r.status == 201, r.json
        item = new_item(alice, publisher_id=r.json["id"])
        alice.client.post(f"/v1/items/{item['id']}/files", json_body={"media_id": ready_media(alice)})

        # When the user publishes it now
        started = alice.client.post(f"/v1/items/{item['id']}/publish-now")
        again = alice.client.post(f"/v1/items/{item['id']}/publish-now")
        drain()
        after = alice.client.post(f"/v1/items/{item['id']}/publish-now")
    finally:
        _registry.pop("test-platform", None)

    # Then it went through the plugin once, with the stable idempotency key
    assert started.status == 202
    assert again.json["job_id"] == started.json["job_id"]  # the active job, not a second one
    assert after.error_code == "item_status_conflict"  # published: nothing more to start
    assert [c.idempotency_key for c in calls] == [f"item:{item['id']}"]
    assert item_row(item["id"]).remote_id == f"tp-{item['id']}"
