"""The worker registry: register once per environment, heartbeat per batch, the stale sweep, the admin listing."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from shared.db import get_engine, session
from shared.db.models import Worker
from shared.jobs import workers
from tests.conftest import reconfigure


@pytest.fixture(autouse=True)
def fresh_environment(db) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """Each test is a new execution environment (the database is emptied between tests)."""
    workers.forget_current_worker()
    yield
    workers.forget_current_worker()


def load(worker_id: uuid.UUID) -> Worker:
    with session() as s:
        found = s.get(Worker, worker_id)
        assert found is not None
        return found


def silent_for(worker_id: uuid.UUID, age: timedelta) -> None:
    """Pretend the worker's last heartbeat was `age` ago."""
    with session() as s:
        s.execute(update(Worker).where(Worker.id == worker_id).values(last_heartbeat_at=datetime.now(UTC) - age))


def test_an_environment_registers_once_and_heartbeats_per_batch() -> None:
    # When the worker function handles its first batch
    worker_id = workers.current_worker("jobs-worker", concurrency=4)

    # Then it is registered with where it runs
    worker = load(worker_id)
    assert (worker.name, worker.hostname, worker.pid, worker.concurrency) == (
        "jobs-worker",
        socket.gethostname(),
        os.getpid(),
        4,
    )
    assert (worker.status, worker.processed_count, worker.failed_count, worker.stopped_at) == ("active", 0, 0, None)

    # And later batches reuse the same row
    assert workers.current_worker("jobs-worker", concurrency=4) == worker_id
    with session() as s:
        assert len(list(s.scalars(select(Worker.id)))) == 1

    # When two batches report, Then the counts add up and the heartbeat moves
    before = worker.last_heartbeat_at
    assert workers.heartbeat(worker_id, processed=5, failed=1, active=2)
    assert workers.heartbeat(worker_id, processed=3, failed=0, active=0)
    worker = load(worker_id)
    assert (worker.processed_count, worker.failed_count, worker.active_jobs) == (8, 1, 0)
    assert worker.last_heartbeat_at > before


def test_a_heartbeat_for_a_vanished_row_makes_the_environment_register_again() -> None:
    worker_id = workers.current_worker("jobs-worker")
    with session() as s:
        s.execute(Worker.__table__.delete().where(Worker.id == worker_id))

    assert workers.heartbeat(worker_id, processed=1) is False

    again = workers.current_worker("jobs-worker")
    assert again != worker_id
    assert load(again).status == "active"


def test_the_sweep_marks_quiet_workers_stale_then_stopped_and_a_heartbeat_revives_them() -> None:
    # Given a live worker, one quiet for 20 minutes, one quiet for 2 days, one stopped 40 days ago
    live = workers.register("live")
    quiet = workers.register("quiet")
    gone = workers.register("gone")
    ancient = workers.register("ancient")
    silent_for(live, timedelta(minutes=5))
    silent_for(quiet, timedelta(minutes=20))
    silent_for(gone, timedelta(days=2))
    silent_for(ancient, timedelta(days=40))
    with session() as s:
        s.execute(update(Worker).where(Worker.id == ancient).values(status="stopped"))

    # When the sweep runs
    assert workers.sweep_workers() == 4  # quiet + gone stale, gone stopped, ancient pruned

    # Then
    assert load(live).status == "active"
    assert load(quiet).status == "stale"
    stopped = load(gone)
    assert stopped.status == "stopped"
    assert stopped.stopped_at is not None
    with session() as s:
        assert s.get(Worker, ancient) is None
    # And an overlapping tick finds nothing left to do
    assert workers.sweep_workers() == 0

    # When a stale environment thaws and heartbeats, Then it is active again
    assert workers.heartbeat(quiet, processed=1)
    assert load(quiet).status == "active"
    assert workers.heartbeat(gone)
    assert (load(gone).status, load(gone).stopped_at) == ("active", None)


def test_admins_list_workers_newest_heartbeat_first_and_filter_by_status(admin) -> None:  # type: ignore[no-untyped-def]
    older = workers.register("older", concurrency=2)
    newer = workers.register("newer")
    stale = workers.register("stale")
    silent_for(older, timedelta(minutes=2))
    silent_for(newer, timedelta(minutes=1))
    silent_for(stale, timedelta(hours=1))
    workers.sweep_workers()

    listed = admin.client.get("/v1/admin/workers")
    assert listed.status == 200, listed.json
    items = listed.json["items"]
    assert [w["id"] for w in items] == [str(newer), str(older), str(stale)]
    assert {k: items[1][k] for k in ("name", "concurrency", "status", "processed_count", "pid")} == {
        "name": "older",
        "concurrency": 2,
        "status": "active",
        "processed_count": 0,
        "pid": os.getpid(),
    }

    active = admin.client.get("/v1/admin/workers", query={"status": "active"}).json["items"]
    assert [w["id"] for w in active] == [str(newer), str(older)]
    assert [w["id"] for w in admin.client.get("/v1/admin/workers", query={"status": "stale"}).json["items"]] == [
        str(stale)
    ]
    page = admin.client.get("/v1/admin/workers", query={"limit": "2"}).json
    assert (len(page["items"]), page["next_offset"]) == (2, 2)
    bad = admin.client.get("/v1/admin/workers", query={"status": "sleeping"})
    assert (bad.status, bad.error_code) == (422, "validation_failed")


def test_members_cannot_list_workers(alice) -> None:  # type: ignore[no-untyped-def]
    workers.register("w")

    response = alice.client.get("/v1/admin/workers")

    assert (response.status, response.error_code) == (403, "forbidden")


def test_the_scheduler_tick_runs_the_stale_sweep(aws_env) -> None:  # type: ignore[no-untyped-def]
    from functions.scheduler.handler import handler
    from local.events import scheduled_event
    from local.lambda_context import LambdaContext

    worker_id = workers.register("quiet")
    silent_for(worker_id, timedelta(minutes=30))

    result = handler(scheduled_event(), LambdaContext("conveyor-test-scheduler", timeout_s=60))

    assert result["steps"]["jobs.stale_workers"] == 1
    assert load(worker_id).status == "stale"


def test_the_worker_heartbeats_at_most_every_few_seconds_and_reports_every_batch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A heartbeat per batch was a sixth of the worker's time: it is written at most every
    CONVEYOR_WORKER_HEARTBEAT_EVERY_S, with the counts of the batches in between added up."""
    from pydantic import BaseModel

    from shared.config import get_settings
    from shared.jobs import registry, service, wakeups
    from shared.jobs.worker import process_wakeups, worker_name

    class Nothing(BaseModel):
        pass

    registry.use(registry.job_type("test.registry.noop", payload=Nothing)(lambda ctx, payload: None))
    previous = wakeups.set_transport(lambda _: None)
    writes: list[str] = []

    def count(_conn, _cursor, statement, *_):  # type: ignore[no-untyped-def]
        if "UPDATE WORKERS" in statement.upper():
            writes.append(statement)

    from sqlalchemy import event

    monkeypatch.setenv("CONVEYOR_WORKER_HEARTBEAT_EVERY_S", "3600")
    reconfigure()
    engine = get_engine()
    event.listen(engine, "before_cursor_execute", count)
    try:
        for _ in range(3):  # three batches of two jobs, back to back
            for _ in range(2):
                service.create_job(user_id=None, type="test.registry.noop", payload={})
            process_wakeups(2, function_name="throttled", remaining_ms=lambda: 60_000)
        assert len(writes) == 1  # the first batch only
        monkeypatch.setattr(get_settings(), "worker_heartbeat_every_s", 0.0)  # the interval has passed
        service.create_job(user_id=None, type="test.registry.noop", payload={})
        process_wakeups(1, function_name="throttled", remaining_ms=lambda: 60_000)
    finally:
        event.remove(engine, "before_cursor_execute", count)
        wakeups.set_transport(previous)
    assert len(writes) == 2
    with session() as s:
        worker = s.scalar(select(Worker).where(Worker.name == worker_name("throttled")))  # this process's name
    assert worker is not None
    assert worker.processed_count == 7  # 2 reported at once, then 2 + 2 + 1 at the next heartbeat
    monkeypatch.delenv("CONVEYOR_WORKER_HEARTBEAT_EVERY_S")
    reconfigure()
