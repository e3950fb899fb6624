"""The job engine end to end: API → Postgres + SQS (moto) → functions/worker, and the scheduler's sweeps."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import BaseModel
from sqlalchemy import func, select, text, update

from local.events import scheduled_event
from local.lambda_context import LambdaContext
from shared import aws
from shared.billing import ledger
from shared.config import get_settings
from shared.db import session
from shared.db.models import Job
from shared.jobs import registry, service, wakeups
from shared.jobs.context import JobContext
from shared.jobs.errors import NonRetryable
from shared.jobs.registry import job_type
from shared.jobs.runner import backoff_ms
from tests.support.jobs import deliver_once, drain, queued_messages

RUNS: list[str] = []


class Echo(BaseModel):
    message: str = "hi"


@job_type("test.echo", payload=Echo, cost_credits=2)
def echo(ctx: JobContext, payload: Echo) -> dict[str, str]:
    RUNS.append(str(ctx.job_id))
    ctx.log("echoing", data={"length": len(payload.message)})
    return {"echo": payload.message}


class Boom(BaseModel):
    retryable: bool = True


@job_type("test.boom", payload=Boom, max_attempts=3, retry_base_ms=0, retry_cap_ms=0)
def boom(ctx: JobContext, payload: Boom) -> None:
    if payload.retryable:
        raise RuntimeError(f"transient failure on attempt {ctx.attempt}")
    raise NonRetryable("this can never work")


class Items(BaseModel):
    n: int
    failing: list[int] = []


@job_type("test.items", payload=Items)
def items(ctx: JobContext, payload: Items) -> dict[str, int]:
    ctx.set_total(payload.n)
    for i in range(payload.n):
        ctx.count(failure=1) if i in payload.failing else ctx.count(success=1)
    return {"processed": payload.n}


class Beats(BaseModel):
    beats: int = 3
    cancel_after: int | None = None


@job_type("test.heartbeat", payload=Beats)
def heartbeat(ctx: JobContext, payload: Beats) -> dict[str, int]:
    for beat in range(payload.beats):
        if beat == payload.cancel_after:
            # The user cancels from elsewhere while we run: the next heartbeat must see it.
            service.cancel_job(ctx.user_id, ctx.job_id)  # type: ignore[arg-type]
        ctx.heartbeat()
        ctx.progress(100 * (beat + 1) / payload.beats)
    return {"beats": payload.beats}


def job(job_id: str | uuid.UUID) -> Job:
    with session() as s:
        found = s.get(Job, uuid.UUID(str(job_id)))
        assert found is not None
        return found


def tick() -> dict:
    from functions.scheduler.handler import handler

    return handler(scheduled_event(), LambdaContext("conveyor-test-scheduler", timeout_s=60))


@pytest.fixture
def funded(aws_env, alice):  # type: ignore[no-untyped-def]
    ledger.grant(alice.id, 100, reason="test credits")
    RUNS.clear()
    return alice


# --- creating -----------------------------------------------------------------------------------------------------


def test_a_job_runs_once_and_captures_its_credits(funded) -> None:  # type: ignore[no-untyped-def]
    created = funded.client.post("/v1/jobs", json_body={"type": "test.echo", "payload": {"message": "yo"}})
    assert created.status == 201, created.body
    assert created.json["status"] == "queued"
    assert ledger.balance(funded.id).reserved == 2

    drain()

    done = funded.client.get(f"/v1/jobs/{created.json['id']}").json
    assert done["status"] == "completed"
    assert done["result"] == {"echo": "yo"}
    assert done["attempts"] == 1
    assert done["progress"] == 100
    assert [created.json["id"]] == RUNS
    balance = ledger.balance(funded.id)
    assert (balance.balance, balance.reserved) == (98, 0)
    logs = funded.client.get(f"/v1/jobs/{created.json['id']}/logs").json["items"]
    assert [(entry["message"], entry["data"]) for entry in logs] == [("echoing", {"length": 2})]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"type": "no.such.type"}, "unknown_job_type"),
        (
            {"type": "webhook.deliver", "payload": {"delivery_id": "00000000-0000-0000-0000-000000000000"}},
            "unknown_job_type",
        ),
        ({"type": "test.items", "payload": {"n": "many"}}, "invalid_payload"),
        ({"type": "test.echo", "run_at": "2020-01-01T00:00:00Z"}, "run_at_in_past"),
        ({"type": "test.echo", "priority": "urgent"}, "validation_failed"),
        ({"type": "test.echo", "extra": 1}, "validation_failed"),
    ],
)
def test_bad_jobs_are_422_and_store_nothing(funded, body: dict, code: str) -> None:  # type: ignore[no-untyped-def]
    response = funded.client.post("/v1/jobs", json_body=body)

    assert response.status == 422
    assert response.error_code == code
    with session() as s:
        assert s.scalar(select(func.count()).select_from(Job)) == 0
    assert queued_messages() == 0
    assert ledger.balance(funded.id).reserved == 0


def test_without_credits_a_job_is_refused_with_402(aws_env, bob) -> None:  # type: ignore[no-untyped-def]
    response = bob.client.post("/v1/jobs", json_body={"type": "test.echo"})

    assert response.status == 402
    assert response.error_code == "insufficient_credits"
    with session() as s:
        assert s.scalar(select(func.count()).select_from(Job)) == 0
    assert queued_messages() == 0


def test_the_same_idempotency_key_returns_the_first_job_and_a_different_body_conflicts(funded) -> None:  # type: ignore[no-untyped-def]
    headers = {"Idempotency-Key": "order-42"}
    first = funded.client.post("/v1/jobs", json_body={"type": "test.echo"}, headers=headers)
    again = funded.client.post("/v1/jobs", json_body={"type": "test.echo"}, headers=headers)
    other = funded.client.post(
        "/v1/jobs", json_body={"type": "test.echo", "payload": {"message": "x"}}, headers=headers
    )

    assert (first.status, again.status) == (201, 201)
    assert again.json["id"] == first.json["id"]
    assert other.status == 409
    assert other.error_code == "idempotency_key_reused"
    assert ledger.balance(funded.id).reserved == 2
    assert queued_messages() == 1


def test_a_dedupe_key_returns_the_active_job_then_allows_a_new_one(funded) -> None:  # type: ignore[no-untyped-def]
    body = {"type": "test.echo", "dedupe_key": "nightly"}
    first = funded.client.post("/v1/jobs", json_body=body)
    duplicate = funded.client.post("/v1/jobs", json_body=body)
    drain()
    after = funded.client.post("/v1/jobs", json_body=body)

    assert (first.status, duplicate.status, after.status) == (201, 200, 201)
    assert duplicate.json["id"] == first.json["id"]
    assert after.json["id"] != first.json["id"]


# --- the state machine ----------------------------------------------------------------------------------------------


def test_only_legal_transitions_change_a_job(funded) -> None:  # type: ignore[no-untyped-def]
    from shared.db.enums import JobStatus
    from shared.jobs.lifecycle import move_one
    from shared.jobs.states import TRANSITIONS

    for action, transition in TRANSITIONS.items():
        for status in JobStatus:
            created = service.create_job(user_id=funded.id, type="test.items", payload={"n": 1})
            with session() as s:
                s.execute(update(Job).where(Job.id == created.job.id).values(status=status.value))
            with session() as s:
                moved = move_one(s, action, Job.id == created.job.id)
            assert (moved is not None) == (status in transition.sources), (action, status)
            assert job(created.job.id).status == (transition.target if moved else status)


# --- running ----------------------------------------------------------------------------------------------------------


def test_a_duplicate_delivery_never_runs_a_job_twice(funded) -> None:  # type: ignore[no-untyped-def]
    created = funded.client.post("/v1/jobs", json_body={"type": "test.echo"}).json
    sqs = aws.client("sqs")
    for _ in range(3):  # SQS is at-least-once: the same wake-up may arrive again, even concurrently
        sqs.send_message(QueueUrl=get_settings().jobs_queue_url, MessageBody=json.dumps({"job_id": created["id"]}))

    drain()

    assert [created["id"]] == RUNS
    assert job(created["id"]).attempts == 1


def test_retryable_errors_retry_until_max_attempts_then_fail_and_release_credits(funded) -> None:  # type: ignore[no-untyped-def]
    created = funded.client.post("/v1/jobs", json_body={"type": "test.boom"}).json

    drain()

    failed = job(created["id"])
    assert failed.status == "failed"
    assert failed.attempts == 3
    # The exception's text goes to the log only; the user sees a safe message and the error's class.
    assert failed.error == "The job failed with an unexpected error (RuntimeError)."
    assert failed.error_details["error_class"] == "RuntimeError"
    assert "transient failure" not in json.dumps(funded.client.get(f"/v1/jobs/{created['id']}").json)


def test_a_non_retryable_error_fails_at_once(funded) -> None:  # type: ignore[no-untyped-def]
    created = funded.client.post("/v1/jobs", json_body={"type": "test.boom", "payload": {"retryable": False}}).json

    drain()

    failed = job(created["id"])
    assert (failed.status, failed.attempts, failed.error) == ("failed", 1, "this can never work")
    assert failed.error_details == {"retryable": False, "error_class": "NonRetryable"}


def test_failed_jobs_release_their_credits_and_a_retry_reserves_again(funded) -> None:  # type: ignore[no-untyped-def]
    created = service.create_job(user_id=funded.id, type="test.echo", payload={})
    with session() as s:
        s.execute(update(Job).where(Job.id == created.job.id).values(type="test.boom", payload={"retryable": False}))
    drain()
    assert job(created.job.id).status == "failed"
    assert ledger.balance(funded.id).reserved == 0
    assert ledger.balance(funded.id).balance == 100

    retried = funded.client.post(f"/v1/jobs/{created.job.id}/retry")

    assert retried.status == 200
    assert (retried.json["status"], retried.json["attempts"]) == ("queued", 0)
    assert ledger.balance(funded.id).reserved == 2
    assert funded.client.post(f"/v1/jobs/{created.job.id}/retry").error_code == "job_not_retryable"


def test_backoff_is_exponential_with_full_jitter_and_capped() -> None:
    for attempt in range(1, 12):
        ceiling = min(60_000, 1_000 * 2 ** (attempt - 1))
        delays = [backoff_ms(attempt, 1_000, 60_000) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling / 2  # spread over the whole range, not fixed


def test_a_retry_waits_for_its_backoff(funded) -> None:  # type: ignore[no-untyped-def]
    created = service.create_job(user_id=funded.id, type="test.boom", payload={})
    with session() as s:
        s.execute(update(Job).where(Job.id == created.job.id).values(retry_base_ms=60_000, retry_cap_ms=60_000))

    deliver_once()

    waiting = job(created.job.id)
    assert waiting.status == "retrying"
    assert waiting.run_at > datetime.now(UTC) - timedelta(seconds=1)
    assert waiting.error_details["retry_in_ms"] <= 60_000
    with session() as s:  # not claimable before its run_at, whatever wake-up arrives
        assert claim(s, 10, "eager-worker") == []


def test_items_with_failures_end_in_review_until_committed(funded) -> None:  # type: ignore[no-untyped-def]
    created = funded.client.post("/v1/jobs", json_body={"type": "test.items", "payload": {"n": 4, "failing": [2]}}).json

    drain()

    review = funded.client.get(f"/v1/jobs/{created['id']}").json
    assert review["status"] == "review"
    assert review["counts"] == {"total": 4, "success": 3, "failure": 1, "skip": 0}
    assert review["ratios"] == {"success": 0.75, "failure": 0.25, "skip": 0.0}
    committed = funded.client.post(f"/v1/jobs/{created['id']}/commit")
    assert committed.json["status"] == "done"
    assert committed.json["committed_at"] is not None
    assert funded.client.post(f"/v1/jobs/{created['id']}/commit").error_code == "job_not_committable"


def test_cancel_a_queued_job_releases_credits_and_it_never_runs(funded) -> None:  # type: ignore[no-untyped-def]
    created = funded.client.post("/v1/jobs", json_body={"type": "test.echo"}).json

    cancelled = funded.client.post(f"/v1/jobs/{created['id']}/cancel")
    drain()

    assert cancelled.json["status"] == "cancelled"
    assert RUNS == []
    assert ledger.balance(funded.id).reserved == 0
    assert funded.client.post(f"/v1/jobs/{created['id']}/cancel").error_code == "job_not_cancellable"


def test_a_running_handler_sees_the_cancel_at_its_next_heartbeat(funded) -> None:  # type: ignore[no-untyped-def]
    created = funded.client.post(
        "/v1/jobs", json_body={"type": "test.heartbeat", "payload": {"beats": 5, "cancel_after": 2}}
    ).json

    drain()

    stopped = job(created["id"])
    assert stopped.status == "cancelled"
    assert stopped.cancel_requested_at is not None
    assert float(stopped.progress) == 40.0  # two beats reported before the third saw the cancel


# --- crash recovery and the sweeps ---------------------------------------------------------------------------------


def test_a_worker_killed_mid_job_loses_its_lease_and_the_job_is_retried(funded) -> None:  # type: ignore[no-untyped-def]
    created = funded.client.post("/v1/jobs", json_body={"type": "test.echo"}).json
    with session() as s:  # a worker claims it, then its Lambda is killed: nothing more is written
        [claimed] = claim(s, 1, "doomed-worker")
    with session() as s:
        s.execute(
            update(Job).where(Job.id == claimed.id).values(lease_expires_at=func.now() - text("interval '1 second'"))
        )

    assert tick()["steps"]["jobs.expired_leases"] == 1
    assert job(created["id"]).status == "retrying"
    drain()

    recovered = job(created["id"])
    assert (recovered.status, recovered.attempts) == ("completed", 2)
    assert [created["id"]] == RUNS


def test_a_lease_lost_on_the_last_attempt_fails_the_job(funded) -> None:  # type: ignore[no-untyped-def]
    created = service.create_job(user_id=funded.id, type="test.echo", payload={}, max_attempts=1)
    with session() as s:
        claim(s, 1, "doomed-worker")
        s.execute(update(Job).values(lease_expires_at=func.now() - text("interval '1 second'")))

    tick()

    assert job(created.job.id).status == "failed"
    assert ledger.balance(funded.id).reserved == 0


def test_a_lost_wake_up_is_topped_up_by_the_sweep(funded) -> None:  # type: ignore[no-untyped-def]
    def lost(_: object) -> None:
        raise ConnectionError("the function died between commit and send")

    previous = wakeups.set_transport(lost)
    try:
        created = funded.client.post("/v1/jobs", json_body={"type": "test.echo"})
    finally:
        wakeups.set_transport(previous)
    assert created.status == 201
    assert queued_messages() == 0

    assert tick()["steps"]["jobs.top_up_wakeups"] == 1
    drain()

    assert job(created.json["id"]).status == "completed"
    assert tick()["steps"]["jobs.top_up_wakeups"] == 0


def test_deferred_jobs_wait_as_pending_and_are_queued_when_due(funded) -> None:  # type: ignore[no-untyped-def]
    later = (datetime.now(UTC) + timedelta(hours=3)).isoformat()
    created = funded.client.post("/v1/jobs", json_body={"type": "test.echo", "run_at": later}).json
    assert created["status"] == "pending"
    assert queued_messages() == 0
    assert tick()["steps"]["jobs.deferred"] == 0

    with session() as s:  # three hours pass
        s.execute(update(Job).values(run_at=func.now()))
    assert tick()["steps"]["jobs.deferred"] == 1
    drain()

    assert job(created["id"]).status == "completed"


# --- priorities -------------------------------------------------------------------------------------------------------


def test_a_critical_job_starts_before_a_backlog_of_ten_thousand_low_jobs(funded) -> None:  # type: ignore[no-untyped-def]
    with session() as s:  # 10,000 low jobs already queued (inserted in bulk: their wake-ups are in the queue too)
        s.execute(
            text(
                "INSERT INTO jobs (user_id, type, payload, status, priority, run_at, enqueued_at)"
                " SELECT :user, 'test.items', '{\"n\": 0}', 'queued', 3, now() - interval '1 minute', now()"
                " FROM generate_series(1, 10000)"
            ),
            {"user": funded.id},
        )
    wakeups.send_now([wakeups.Wakeup(None)] * 20)  # older wake-ups, sent for low jobs
    critical = funded.client.post("/v1/jobs", json_body={"type": "test.echo", "priority": "critical"}).json

    deliver_once(max_messages=1)  # the first wake-up to arrive was sent for a low job

    assert job(critical["id"]).status == "completed"
    with session() as s:
        assert s.scalar(select(func.count()).select_from(Job).where(Job.status != "queued")) == 1


# --- output -----------------------------------------------------------------------------------------------------------


def test_a_finished_job_links_its_output_for_a_few_minutes_and_only_when_servable(funded) -> None:  # type: ignore[no-untyped-def]
    from shared.db.models import MediaFile

    created = service.create_job(user_id=funded.id, type="test.echo", payload={})
    with session() as s:
        media = MediaFile(
            user_id=funded.id,
            bucket=get_settings().media_bucket,
            key="media/x/out.mp4",
            region="us-east-1",
            status="ready",
        )
        s.add(media)
        s.flush()
        s.execute(update(Job).values(output_media_id=media.id))
        media_id = media.id
    assert funded.client.get(f"/v1/jobs/{created.job.id}").json["output_url"] is None  # not done yet

    drain()
    url = funded.client.get(f"/v1/jobs/{created.job.id}").json["output_url"]

    assert "media/x/out.mp4" in url
    assert "X-Amz-Expires=300" in url
    with session() as s:
        s.execute(update(MediaFile).where(MediaFile.id == media_id).values(status="quarantined"))
    assert funded.client.get(f"/v1/jobs/{created.job.id}").json["output_url"] is None


class Stolen(BaseModel):
    pass


@job_type("test.stolen", payload=Stolen)
def stolen(ctx: JobContext, payload: Stolen) -> dict[str, bool]:
    with session() as s:  # another worker took this job over (our lease expired while we ran)
        s.execute(update(Job).where(Job.id == ctx.job_id).values(locked_by="thief"))
    return {"ran": True}


def test_grouped_success_writes_skip_a_job_whose_lease_was_lost(funded) -> None:  # type: ignore[no-untyped-def]
    from shared.jobs.runner import run_batch

    mine = service.create_job(user_id=funded.id, type="test.items", payload={"n": 1}).job
    lost = service.create_job(user_id=funded.id, type="test.stolen", payload={}).job

    result = run_batch(10, worker="w1", remaining_ms=lambda: 60_000)

    assert {o.job_id: o.status for o in result.outcomes} == {mine.id: "completed", lost.id: "lease_lost"}
    assert job(lost.id).status == "running"  # left to its new holder
    assert job(lost.id).result is None


def claim(s, limit: int, worker: str) -> list:  # type: ignore[no-untyped-def]
    """A worker's claim, as the runner makes it (no worker row, a minute's lease)."""
    from shared.jobs.lifecycle import claim as lifecycle_claim

    return lifecycle_claim(s, limit=limit, worker=worker, worker_id=None, lease_cap_s=60, margin_s=30)


registry.use(echo, boom, items, heartbeat, stolen)  # offered as a composition root would
