"""Which worker ran a job, and what the worker registry shows while and after it runs (issue 12, item 2)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import BaseModel
from sqlalchemy import update

from shared.db import session
from shared.db.models import Worker
from shared.jobs import registry, workers
from shared.jobs.context import JobContext
from shared.jobs.errors import NonRetryable
from shared.jobs.registry import job_type
from tests.support.jobs import deliver_once, drain


class Gate(BaseModel):
    pass


STARTED = threading.Event()
RELEASE = threading.Event()


@job_type("test.workers.gate", payload=Gate)
def gate(ctx: JobContext, payload: Gate) -> dict[str, bool]:
    """Runs until the test releases it."""
    STARTED.set()
    if not RELEASE.wait(timeout=30):
        raise NonRetryable("the test never released the gate")
    return {"released": True}


class Outcome(BaseModel):
    fail: bool = False


@job_type("test.workers.outcome", payload=Outcome, max_attempts=1)
def outcome(ctx: JobContext, payload: Outcome) -> dict[str, bool]:
    if payload.fail:
        raise NonRetryable("asked to fail")
    return {"ok": True}


registry.use(gate, outcome)  # offered as a composition root would


@pytest.fixture
def gates() -> Iterator[None]:
    STARTED.clear()
    RELEASE.clear()
    yield
    RELEASE.set()  # never leave a worker thread waiting


def the_worker(admin: Any) -> dict[str, Any]:
    listed = admin.client.get("/v1/admin/workers")
    assert listed.status == 200, listed.json
    [worker] = listed.json["items"]  # the database is emptied between tests: this test's environment only
    return worker


def test_a_running_job_counts_as_active_and_names_its_worker(aws_env, admin, gates) -> None:  # type: ignore[no-untyped-def]
    # Given a job that runs until the test releases it, taken by a real worker invocation
    created = admin.client.post("/v1/jobs", json_body={"type": "test.workers.gate"}).json
    invocation = threading.Thread(target=deliver_once)
    invocation.start()
    try:
        assert STARTED.wait(timeout=10), "the worker never started the job"

        # When an operator looks while it runs
        running = the_worker(admin)
        job = admin.client.get(f"/v1/jobs/{created['id']}").json

        # Then the worker shows one active job, and the job names that worker
        assert (running["status"], running["active_jobs"], running["concurrency"]) == ("active", 1, 1)
        assert (running["started_at"] is not None, running["stopped_at"]) == (True, None)
        assert job["status"] == "running"
        assert (job["worker_id"], job["worker_name"]) == (running["id"], running["name"])
        assert running["name"].startswith("conveyor-test-worker/")
    finally:
        RELEASE.set()
        invocation.join(timeout=30)

    # And once it is done, nothing is active, the job is counted and still names its worker
    done = the_worker(admin)
    assert (done["active_jobs"], done["processed_count"], done["failed_count"]) == (0, 1, 0)
    job = admin.client.get(f"/v1/jobs/{created['id']}").json
    assert (job["status"], job["worker_id"], job["worker_name"]) == ("completed", done["id"], done["name"])


def test_the_worker_counts_successes_and_failures(aws_env, admin) -> None:  # type: ignore[no-untyped-def]
    # Given one job that succeeds and one that fails, in one batch (the environment's first heartbeat)
    for fail in (False, True):
        admin.client.post("/v1/jobs", json_body={"type": "test.workers.outcome", "payload": {"fail": fail}})
    drain()
    first = the_worker(admin)
    assert (first["processed_count"], first["failed_count"], first["active_jobs"]) == (2, 1, 0)

    # When, well inside the heartbeat interval, a quick batch takes the last runnable job (a cancelled job's
    # wake-up is left over), Then its counts are written at once: no next batch may come to carry them
    failing = admin.client.post("/v1/jobs", json_body={"type": "test.workers.outcome", "payload": {"fail": True}})
    cancelled = admin.client.post("/v1/jobs", json_body={"type": "test.workers.outcome"}).json
    assert admin.client.post(f"/v1/jobs/{cancelled['id']}/cancel").status == 200
    assert deliver_once() is not None
    later = the_worker(admin)
    assert (later["processed_count"], later["failed_count"]) == (3, 2)
    assert admin.client.get(f"/v1/jobs/{failing.json['id']}").json["worker_id"] == later["id"]


def test_a_worker_that_stops_heartbeating_is_stale_with_no_active_jobs(aws_env, admin, gates) -> None:  # type: ignore[no-untyped-def]
    # Given a worker that froze while holding a job (its row says so, and the job's lease still looks live)
    admin.client.post("/v1/jobs", json_body={"type": "test.workers.gate"})
    invocation = threading.Thread(target=deliver_once)
    invocation.start()
    try:
        assert STARTED.wait(timeout=10)
        worker_id = the_worker(admin)["id"]
        with session() as s:
            s.execute(
                update(Worker)
                .where(Worker.id == worker_id)
                .values(active_jobs=1, last_heartbeat_at=datetime.now(UTC) - timedelta(minutes=20))
            )

        # When the scheduler's sweep runs
        assert workers.sweep_workers() == 1

        # Then it is stale and counts no active jobs, in the API and in its row
        stale = the_worker(admin)
        assert (stale["status"], stale["active_jobs"]) == ("stale", 0)
        with session() as s:
            row = s.get(Worker, worker_id)
            assert row is not None
            assert (row.status, row.active_jobs) == ("stale", 0)
    finally:
        RELEASE.set()
        invocation.join(timeout=30)
