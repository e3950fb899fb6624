"""Fan-out to segments and fan-in exactly once, even when the last segments finish at the same moment."""

from __future__ import annotations

import threading
import uuid

from pydantic import BaseModel
from sqlalchemy import func, select, update

from shared.billing import ledger
from shared.db import session
from shared.db.models import Job, JobSegment
from shared.jobs import registry, service
from shared.jobs.context import JobContext
from shared.jobs.registry import job_type
from shared.jobs.runner import run_batch
from shared.jobs.segments import SegmentSpec
from tests.support.jobs import drain

RESUMES: list[str] = []
FAIL_ONCE: set[int] = set()


class Parent(BaseModel):
    parts: int


class Part(BaseModel):
    segment_index: int


@job_type("test.split", payload=Parent)
def split(ctx: JobContext, payload: Parent) -> dict[str, object]:
    specs = [SegmentSpec(i, start_ms=i * 1000, end_ms=(i + 1) * 1000) for i in range(payload.parts)]
    segments = ctx.fan_out("test.part", specs)  # returns only once every segment has finished
    RESUMES.append(str(ctx.job_id))
    return {
        "statuses": [seg.status for seg in segments],
        "sum": sum((seg.result or {}).get("n", 0) for seg in segments),
    }


@job_type("test.part", payload=Part, max_attempts=1)
def part(ctx: JobContext, payload: Part) -> dict[str, int]:
    if payload.segment_index in FAIL_ONCE:
        FAIL_ONCE.discard(payload.segment_index)
        raise RuntimeError("this slice failed")
    return {"n": payload.segment_index}


def _job(job_id: uuid.UUID) -> Job:
    with session() as s:
        found = s.get(Job, job_id)
        assert found is not None
        return found


def test_a_parent_resumes_once_when_its_segments_are_done(aws_env, alice) -> None:  # type: ignore[no-untyped-def]
    RESUMES.clear()
    created = alice.client.post("/v1/jobs", json_body={"type": "test.split", "payload": {"parts": 4}}).json

    drain()

    parent = _job(uuid.UUID(created["id"]))
    assert parent.status == "completed"
    assert parent.result == {"statuses": ["completed"] * 4, "sum": 6}
    assert parent.attempts == 1  # waiting for segments did not use an attempt
    assert [created["id"]] == RESUMES
    segments = alice.client.get(f"/v1/jobs/{created['id']}/segments").json["items"]
    assert [(s["segment_index"], s["status"], s["start_ms"]) for s in segments] == [
        (i, "completed", i * 1000) for i in range(4)
    ]


def test_fan_in_happens_exactly_once_when_segments_finish_concurrently(aws_env, alice) -> None:  # type: ignore[no-untyped-def]
    RESUMES.clear()
    parent = service.create_job(user_id=alice.id, type="test.split", payload={"parts": 8}).job
    run_batch(1, worker="starter", remaining_ms=lambda: 60_000)  # the parent fans out and parks
    assert _job(parent.id).status == "pending"

    barrier = threading.Barrier(4)

    def worker(n: int) -> None:
        barrier.wait()
        while run_batch(1, worker=f"w{n}", remaining_ms=lambda: 60_000).claimed:
            pass

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    finished = _job(parent.id)
    assert finished.status == "completed", finished.status
    assert [str(parent.id)] == RESUMES
    with session() as s:
        assert s.scalar(select(func.count()).select_from(Job).where(Job.parent_id == parent.id)) == 8


def test_a_retried_parent_reruns_only_the_segments_that_failed(aws_env, alice) -> None:  # type: ignore[no-untyped-def]
    RESUMES.clear()
    FAIL_ONCE.update({1, 2})
    created = alice.client.post("/v1/jobs", json_body={"type": "test.split", "payload": {"parts": 4}}).json
    drain()
    first = _job(uuid.UUID(created["id"]))
    assert first.result["statuses"] == ["completed", "failed", "failed", "completed"]
    with session() as s:  # the parent decided the run was not good enough
        s.execute(update(Job).where(Job.id == first.id).values(status="failed"))

    alice.client.post(f"/v1/jobs/{created['id']}/retry")
    drain()

    again = _job(first.id)
    assert again.result["statuses"] == ["completed"] * 4
    with session() as s:
        children = s.scalar(select(func.count()).select_from(Job).where(Job.parent_id == first.id))
        attempts = dict(
            s.execute(select(JobSegment.segment_index, JobSegment.attempts).where(JobSegment.job_id == first.id)).all()
        )
    assert children == 6  # 4 first, then only the 2 that failed
    assert attempts == {0: 1, 1: 2, 2: 2, 3: 1}


def test_cancelling_a_waiting_parent_cancels_its_children(aws_env, alice) -> None:  # type: ignore[no-untyped-def]
    ledger.grant(alice.id, 1, reason="unused")
    parent = service.create_job(user_id=alice.id, type="test.split", payload={"parts": 3}).job
    run_batch(1, worker="starter", remaining_ms=lambda: 60_000)

    cancelled = alice.client.post(f"/v1/jobs/{parent.id}/cancel")

    assert cancelled.json["status"] == "cancelled"
    with session() as s:
        statuses = set(s.scalars(select(Job.status).where(Job.parent_id == parent.id)))
    assert statuses == {"cancelled"}


registry.use(split, part)  # offered as a composition root would
