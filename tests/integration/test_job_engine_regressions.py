"""Regression tests for the job engine defects of issue 10: each failed on the engine before v2.

- a job whose lease was lost while it waited behind a slow one in the same batch is never started;
- a success is written while the next job of the batch is still running (not after it);
- a sub-second backoff is honoured by its own wake-up, without the sweep (the delay rounds up);
- schedules refuse every internal job type (a privilege escalation), and a sale job ignores other users' entries;
- retrying a job whose dedupe key another active job holds is a 409 naming that job, not a 500;
- an unknown or another user's input_media_id is a 404, not a 500 or an accepted reference;
- a handler's exception text (SQL, host names) reaches neither the API nor the webhook.
"""

from __future__ import annotations

import json
import random
import time
import uuid

import pytest
from pydantic import BaseModel
from sqlalchemy import func, select, text, update

from shared.db import session
from shared.db.models import Job, JobLog, WebhookDelivery
from shared.jobs import registry, service, sweep, wakeups
from shared.jobs.context import JobContext
from shared.jobs.registry import job_type
from shared.jobs.runner import run_batch
from tests.conftest import reconfigure
from tests.support.jobs import deliver_once

RUNS: list[str] = []


class Step(BaseModel):
    sleep_s: float = 0.0
    steal: str | None = None  # a job id whose lease "expires" (and the sweep takes back) while we run
    watch: str | None = None  # a job id whose status we record while we run
    fail_first: bool = False
    leak: bool = False


WATCHED: dict[str, str] = {}


@job_type("regress.step", payload=Step, retry_base_ms=900, retry_cap_ms=900, max_attempts=3)
def step(ctx: JobContext, payload: Step) -> dict[str, int]:
    RUNS.append(str(ctx.job_id))
    if payload.steal:
        with session() as s:
            s.execute(
                update(Job)
                .where(Job.id == uuid.UUID(payload.steal))
                .values(lease_expires_at=func.now() - text("interval '1 second'"))
            )
        sweep.recover_expired_leases()
    time.sleep(payload.sleep_s)
    if payload.watch:
        with session() as s:
            WATCHED[payload.watch] = s.scalar(select(Job.status).where(Job.id == uuid.UUID(payload.watch)))
    if payload.fail_first and ctx.attempt == 1:
        raise RuntimeError("first attempt fails")
    if payload.leak:
        raise RuntimeError(
            "relation \"users\" does not exist: SELECT password FROM users WHERE host = 'db-7.internal.example'"
        )
    return {"attempt": ctx.attempt}


class Effect(BaseModel):
    lose_lease: bool = False


@job_type("regress.effect", payload=Effect)
def effect(ctx: JobContext, payload: Effect) -> dict[str, int] | None:
    """A side effect in our database, recorded with the job's end by ctx.completing()."""
    with ctx.completing() as done:
        done.session.add(JobLog(job_id=ctx.job_id, level="info", message="the side effect"))
        if payload.lose_lease:  # another worker takes the job over before we commit
            with session() as s:
                s.execute(update(Job).where(Job.id == ctx.job_id).values(locked_by="someone-else"))
        done.result = {"effects": 1}
    return done.result


registry.use(step, effect)


@pytest.fixture
def short_margin(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Leases of timeout + 2 s, so half the margin (1 s) passes inside one test."""
    monkeypatch.setenv("CONVEYOR_JOB_LEASE_MARGIN_S", "2")
    reconfigure()
    yield
    monkeypatch.delenv("CONVEYOR_JOB_LEASE_MARGIN_S")
    reconfigure()


@pytest.fixture
def quiet_transport():  # type: ignore[no-untyped-def]
    sent: list[wakeups.Wakeup] = []
    previous = wakeups.set_transport(sent.extend)
    RUNS.clear()
    WATCHED.clear()
    yield sent
    wakeups.set_transport(previous)


def status(job_id: uuid.UUID) -> str:
    with session() as s:
        return s.scalar(select(Job.status).where(Job.id == job_id)) or ""


# --- leases and outcomes inside a batch ----------------------------------------------------------------------


def test_a_job_whose_lease_was_lost_while_it_waited_in_the_batch_is_never_started(
    db, short_margin, quiet_transport
) -> None:  # type: ignore[no-untyped-def]
    # Given two jobs claimed in one batch; the first is slow, and while it runs the second's lease expires and the
    # sweep takes it back (a worker cannot tell this from a crash)
    second = service.create_job(user_id=None, type="regress.step", payload={}).job
    first = service.create_job(
        user_id=None, type="regress.step", payload={"sleep_s": 1.2, "steal": str(second.id)}, priority=0
    ).job

    # When the worker runs the batch
    result = run_batch(2, worker="w-slow", remaining_ms=lambda: 60_000)

    # Then the second job was not started by this worker: it is the sweep's again, to run once, elsewhere
    assert [str(first.id)] == RUNS
    assert {o.job_id: o.status for o in result.outcomes}[second.id] == "lease_lost"
    assert status(second.id) == "retrying"
    assert status(first.id) == "completed"


def test_a_success_is_written_while_the_next_job_of_the_batch_still_runs(db, quiet_transport) -> None:  # type: ignore[no-untyped-def]
    # Given a quick job and, behind it in the same batch, a slow one that looks at the quick one while it runs
    quick = service.create_job(user_id=None, type="regress.step", payload={}, priority=0).job
    service.create_job(user_id=None, type="regress.step", payload={"sleep_s": 0.5, "watch": str(quick.id)})

    run_batch(2, worker="w-watch", remaining_ms=lambda: 60_000)

    # Then the quick job was already completed (credits captured, webhook queued) while the slow one ran
    assert WATCHED[str(quick.id)] == "completed"


def test_a_sub_second_backoff_is_honoured_by_its_own_wake_up_without_the_sweep(aws_env, db) -> None:  # type: ignore[no-untyped-def]
    # Given a job that fails its first attempt with a backoff under a second (seeded: 0.5-0.9 s)
    RUNS.clear()
    created = service.create_job(user_id=None, type="regress.step", payload={"fail_first": True}).job
    random.seed(0)
    assert 500 < random.uniform(0, 900) < 900
    random.seed(0)
    deliver_once()
    assert status(created.id) == "retrying"

    # When only wake-ups arrive (no scheduler tick) for the next three seconds
    deadline = time.monotonic() + 3
    while status(created.id) != "completed" and time.monotonic() < deadline:
        deliver_once()
        time.sleep(0.1)

    # Then the retry ran: its wake-up did not arrive before the job was due and get thrown away
    assert status(created.id) == "completed"
    assert [str(created.id), str(created.id)] == RUNS


def effects(job_id: uuid.UUID) -> int:
    with session() as s:
        return s.scalar(select(func.count()).select_from(JobLog).where(JobLog.job_id == job_id)) or 0


def test_a_side_effect_made_while_completing_commits_with_the_jobs_end(db, quiet_transport) -> None:  # type: ignore[no-untyped-def]
    done = service.create_job(user_id=None, type="regress.effect", payload={}).job
    stolen = service.create_job(user_id=None, type="regress.effect", payload={"lose_lease": True}).job

    result = run_batch(2, worker="w-effect", remaining_ms=lambda: 60_000)

    outcomes = {o.job_id: o.status for o in result.outcomes}
    assert (outcomes[done.id], status(done.id), effects(done.id)) == ("completed", "completed", 1)
    with session() as s:
        assert s.scalar(select(Job.result).where(Job.id == done.id)) == {"effects": 1}
    # The job another worker took over keeps no effect of ours: that run makes it.
    assert (outcomes[stolen.id], status(stolen.id), effects(stolen.id)) == ("lease_lost", "running", 0)


# --- one admission path -------------------------------------------------------------------------------------


INTERNAL = ("webhook.deliver", "media.thumbnail", "media.poster", "item.publish", "sale.process")
#: A payload each internal type accepts, so only the internal-type gate can refuse it.
VALID_PAYLOAD = {
    "webhook.deliver": {"delivery_id": str(uuid.uuid4())},
    "media.thumbnail": {"media_id": str(uuid.uuid4())},
    "media.poster": {"media_id": str(uuid.uuid4())},
    "item.publish": {"item_id": str(uuid.uuid4())},
    "sale.process": {"entry_id": str(uuid.uuid4())},
}


def test_the_internal_types_are_the_ones_the_worker_lists_as_internal() -> None:
    from functions.worker.composition import INTERNAL_TYPES

    assert {t.name for t in INTERNAL_TYPES} == set(INTERNAL)
    assert all(t.internal for t in INTERNAL_TYPES)
    for spec in INTERNAL_TYPES:  # the payloads above fit, so a refusal below is the gate's
        spec.payload_model.model_validate(VALID_PAYLOAD[spec.name])


@pytest.mark.parametrize("job_type_name", INTERNAL)
def test_a_schedule_cannot_name_an_internal_job_type(alice, job_type_name: str) -> None:  # type: ignore[no-untyped-def]
    body = {
        "name": "escalate",
        "job_type": job_type_name,
        "payload": VALID_PAYLOAD[job_type_name],
        "interval_seconds": 60,
    }
    response = alice.client.post("/v1/schedules", json_body=body)

    assert response.status == 422, response.body
    assert response.json["error"]["code"] == "unknown_job_type"
    assert job_type_name not in response.json["error"]["details"]["known"]
    assert alice.client.get("/v1/schedules").json["items"] == []


@pytest.mark.parametrize("job_type_name", INTERNAL)
def test_a_due_schedule_row_naming_an_internal_type_creates_no_job(alice, job_type_name: str) -> None:  # type: ignore[no-untyped-def]
    # Given a schedule row that names an internal type (written before the gate existed, or by hand)
    from shared.db.models import Schedule
    from shared.jobs.schedules import run_due_schedules

    with session() as s:
        s.add(
            Schedule(
                user_id=alice.id,
                name="legacy",
                job_type=job_type_name,
                payload=VALID_PAYLOAD[job_type_name],
                interval_seconds=60,
                timezone="UTC",
                next_run_at=func.now() - text("interval '1 minute'"),
            )
        )

    # When the scheduler runs the recurring step, Then the slot is skipped and no job exists
    assert run_due_schedules() == 0
    with session() as s:
        assert s.scalar(select(func.count()).select_from(Job)) == 0


def test_a_sale_job_never_takes_another_users_sale_queue_entry(alice, bob) -> None:  # type: ignore[no-untyped-def]
    from shared.automations.sales import process_sale
    from shared.db.models import Item, PricePreset, SaleQueueEntry

    with session() as s:
        item = Item(user_id=alice.id, title="alice's")
        preset = PricePreset(user_id=alice.id, name="p", price_cents=100)
        s.add_all([item, preset])
        s.flush()
        entry = SaleQueueEntry(user_id=alice.id, item_id=item.id, price_preset_id=preset.id, price_cents=100)
        s.add(entry)
        s.flush()
        entry_id = entry.id
    # Bob's job naming Alice's entry (however it was created) finds nothing to take
    ctx = JobContext(
        job_id=uuid.uuid4(), user_id=bob.id, type="sale.process", attempt=1, max_attempts=3, worker="w", lease_s=60
    )
    outcome = process_sale(ctx, process_sale.payload_model(entry_id=entry_id))

    assert outcome["status"] == "not_taken"
    with session() as s:
        assert s.scalar(select(SaleQueueEntry.status).where(SaleQueueEntry.id == entry_id)) == "pending"


def test_retrying_a_job_whose_dedupe_key_another_active_job_holds_is_a_409(alice, quiet_transport) -> None:  # type: ignore[no-untyped-def]
    # Given a failed job with a dedupe key, and a newer active job holding the same key
    failing = service.create_job(user_id=alice.id, type="regress.step", payload={"leak": True}, dedupe_key="nightly")
    with session() as s:
        s.execute(update(Job).where(Job.id == failing.job.id).values(status="failed"))
    active = service.create_job(user_id=alice.id, type="regress.step", payload={}, dedupe_key="nightly")
    assert active.created

    # When the user retries the failed one
    response = alice.client.post(f"/v1/jobs/{failing.job.id}/retry")

    # Then a 409 names the active job, and nothing changed
    assert response.status == 409, response.body
    assert response.json["error"]["code"] == "dedupe_key_active"
    assert response.json["error"]["details"]["active_job_id"] == str(active.job.id)
    assert status(failing.job.id) == "failed"


def test_an_unknown_or_foreign_input_media_id_is_a_404(alice, bob) -> None:  # type: ignore[no-untyped-def]
    bobs = bob.client.post("/v1/media", json_body={"filename": "b.png", "content_type": "image/png", "size": 10}).json[
        "media"
    ]["id"]
    alices = alice.client.post(
        "/v1/media", json_body={"filename": "a.png", "content_type": "image/png", "size": 10}
    ).json["media"]["id"]
    body = {"type": "regress.step", "payload": {}}

    for media_id in (str(uuid.uuid4()), bobs):
        response = alice.client.post("/v1/jobs", json_body={**body, "input_media_id": media_id})
        assert response.status == 404, response.body
        assert response.json["error"]["code"] == "not_found"
    with session() as s:
        assert s.scalar(select(func.count()).select_from(Job)) == 0

    mine = alice.client.post("/v1/jobs", json_body={**body, "input_media_id": alices})
    assert mine.status == 201, mine.body


# --- errors users see are ours ------------------------------------------------------------------------------


def test_exception_text_reaches_neither_the_api_nor_the_webhook(
    alice, quiet_transport, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CONVEYOR_WEBHOOK_ALLOWED_HOSTS", '["127.0.0.1"]')
    reconfigure()
    created = service.create_job(
        user_id=alice.id,
        type="regress.step",
        payload={"leak": True},
        max_attempts=1,
        webhook_url="http://127.0.0.1:9/h",
    ).job
    run_batch(1, worker="w-leak", remaining_ms=lambda: 60_000)

    shown = alice.client.get(f"/v1/jobs/{created.id}").json
    assert shown["status"] == "failed"
    assert shown["error"] == "The job failed with an unexpected error (RuntimeError)."
    assert shown["error_details"]["error_class"] == "RuntimeError"
    with session() as s:
        delivery = s.scalar(select(WebhookDelivery).where(WebhookDelivery.job_id == created.id))
    assert delivery is not None
    for text_seen in (json.dumps(shown), json.dumps(delivery.payload)):
        for secret in ("SELECT", "password", "db-7.internal", "relation"):
            assert secret not in text_seen


def test_the_claims_asynchronous_commit_does_not_outlive_the_claim(db, quiet_transport) -> None:  # type: ignore[no-untyped-def]
    from shared.db import get_engine
    from shared.db.session import single_statement
    from shared.jobs import lifecycle

    service.create_job(user_id=None, type="regress.step", payload={})
    with get_engine().connect() as conn:  # the test server runs with it off: turn it on for this connection
        conn.execute(text("SET synchronous_commit = on"))
        conn.commit()
    with single_statement() as s:
        claimed = lifecycle.claim(s, limit=1, worker="w-async", worker_id=None, lease_cap_s=60, margin_s=30)
        connection = s.connection().connection.dbapi_connection
    assert len(claimed) == 1
    # The pooled connection is the same one: its session setting is untouched for the next transaction.
    with get_engine().connect() as conn:
        assert conn.connection.dbapi_connection is connection
        assert conn.execute(text("SHOW synchronous_commit")).scalar() == "on"
