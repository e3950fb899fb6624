"""Listing jobs as an operator does (several statuses, priority, type prefix, schedule, worker) and the queue's
figures (`GET /v1/jobs/stats`, `GET /v1/admin/jobs/stats`): seed 001's dashboard, over the API."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import BaseModel
from sqlalchemy import select, update

from functions.api.routes.jobs import StatusCounts
from shared.db import session
from shared.db.enums import JobStatus
from shared.db.models import Job, Worker
from shared.jobs import registry
from shared.jobs.context import JobContext
from shared.jobs.registry import job_type
from tests.support.jobs import drain
from tests.support.users import TestUser


class Nothing(BaseModel):
    pass


@job_type("test.list.noop", payload=Nothing)
def noop(ctx: JobContext, payload: Nothing) -> dict[str, bool]:
    return {"ok": True}


registry.use(noop)  # offered as a composition root would


def make_job(owner: TestUser, **columns: Any) -> str:
    """A job of `owner` made over the API, then given the columns a test needs (type, status, ...) directly."""
    created = owner.client.post("/v1/jobs", json_body={"type": "test.list.noop", "priority": "normal"})
    assert created.status == 201, created.json
    if columns:
        with session() as s:
            s.execute(update(Job).where(Job.id == uuid.UUID(created.json["id"])).values(**columns))
    return created.json["id"]


def listed(owner: TestUser, query: list[tuple[str, str]] | dict[str, str]) -> set[str]:
    response = owner.client.get("/v1/jobs", query=query)
    assert response.status == 200, response.json
    return {j["id"] for j in response.json["items"]}


@pytest.fixture
def jobs(aws_env, alice) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {
        "queued": make_job(alice, type="media.thumbnail"),
        "running": make_job(alice, type="media.transcode", status=JobStatus.RUNNING.value),
        "failed": make_job(alice, type="email.send", status=JobStatus.FAILED.value, priority=0),
        "cancelled": make_job(alice, type="media_x.odd", status=JobStatus.CANCELLED.value, priority=3),
    }


def test_several_statuses_are_asked_for_by_repeating_the_parameter_or_with_commas(alice, jobs) -> None:  # type: ignore[no-untyped-def]
    wanted = {jobs["queued"], jobs["running"]}

    assert listed(alice, [("status", "queued"), ("status", "running")]) == wanted
    assert listed(alice, {"status": "queued,running"}) == wanted
    assert listed(alice, [("status", "running,failed"), ("status", "running")]) == {jobs["running"], jobs["failed"]}
    assert listed(alice, {"status": "done"}) == set()


@pytest.mark.parametrize("bad", ["queud", "queued,", ",queued", "queued;running", "QUEUED", ""])
def test_an_unknown_status_is_422(alice, jobs, bad: str) -> None:  # type: ignore[no-untyped-def]
    response = alice.client.get("/v1/jobs", query={"status": bad})

    assert response.status == 422
    assert response.error_code == "validation_failed"


def test_too_many_status_parameters_are_422(alice, jobs) -> None:  # type: ignore[no-untyped-def]
    assert alice.client.get("/v1/jobs", query=[("status", "queued")] * 21).status == 422
    assert alice.client.get("/v1/jobs", query=[("status", "queued")] * 20).status == 200


def test_a_type_prefix_matches_the_start_and_takes_like_wildcards_literally(alice, jobs) -> None:  # type: ignore[no-untyped-def]
    assert listed(alice, {"type_prefix": "media."}) == {jobs["queued"], jobs["running"]}
    assert listed(alice, {"type_prefix": "media_"}) == {jobs["cancelled"]}  # `_` is not "any character"
    assert listed(alice, {"type_prefix": "%"}) == set()
    assert listed(alice, {"type_prefix": "media.thumb"}) == {jobs["queued"]}
    assert listed(alice, {"type_prefix": "media.", "status": "running"}) == {jobs["running"]}


def test_priority_filters_by_its_name(alice, jobs) -> None:  # type: ignore[no-untyped-def]
    assert listed(alice, {"priority": "critical"}) == {jobs["failed"]}
    assert listed(alice, {"priority": "low"}) == {jobs["cancelled"]}
    assert listed(alice, {"priority": "normal"}) == {jobs["queued"], jobs["running"]}
    assert alice.client.get("/v1/jobs", query={"priority": "2"}).status == 422


def test_the_jobs_of_a_schedule(aws_env, alice) -> None:  # type: ignore[no-untyped-def]
    schedule = alice.client.post(
        "/v1/schedules", json_body={"name": "s", "job_type": "test.list.noop", "interval_seconds": 3600}
    ).json
    mine = make_job(alice, schedule_id=uuid.UUID(schedule["id"]))
    make_job(alice)

    assert listed(alice, {"schedule_id": schedule["id"]}) == {mine}
    assert listed(alice, {"schedule_id": str(uuid.uuid4())}) == set()


def test_the_jobs_a_worker_ran(aws_env, alice) -> None:  # type: ignore[no-untyped-def]
    ran = make_job(alice)
    drain()  # the real worker function claims it and records itself on the job
    with session() as s:
        worker_id = s.scalar(select(Job.worker_id).where(Job.id == uuid.UUID(ran)))
        other = Worker(name="elsewhere", hostname="h", pid=1)
        s.add(other)
        s.flush()
        other_id = other.id
    assert worker_id is not None
    make_job(alice, worker_id=other_id)

    assert listed(alice, {"worker_id": str(worker_id)}) == {ran}


def test_filters_never_show_another_users_jobs(alice, bob, jobs) -> None:  # type: ignore[no-untyped-def]
    assert listed(bob, {"type_prefix": "media."}) == set()
    assert listed(bob, {"status": "queued,running,failed,cancelled"}) == set()


# --- stats --------------------------------------------------------------------------------------------------------


def zeros(**counts: int) -> dict[str, int]:
    return {status.value: 0 for status in JobStatus} | counts


def test_stats_count_each_status_per_type_and_the_oldest_queued_wait(alice, bob, jobs) -> None:  # type: ignore[no-untyped-def]
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    with session() as s:
        s.execute(update(Job).where(Job.id == uuid.UUID(jobs["queued"])).values(enqueued_at=an_hour_ago))
    make_job(bob, type="media.thumbnail")  # not alice's

    stats = alice.client.get("/v1/jobs/stats")

    assert stats.status == 200, stats.json
    body = stats.json
    assert body["totals"] == zeros(queued=1, running=1, failed=1, cancelled=1)
    assert body["types"] == [
        {"type": "email.send", "total": 1, "counts": zeros(failed=1)},
        {"type": "media.thumbnail", "total": 1, "counts": zeros(queued=1)},
        {"type": "media.transcode", "total": 1, "counts": zeros(running=1)},
        {"type": "media_x.odd", "total": 1, "counts": zeros(cancelled=1)},
    ]
    assert 3600 <= body["oldest_queued_age_s"] < 3600 + 60
    assert datetime.fromisoformat(body["oldest_queued_at"]) == an_hour_ago


def test_stats_route_is_not_taken_for_a_job_id(alice) -> None:  # type: ignore[no-untyped-def]
    """`/v1/jobs/stats` is a static route: Powertools matches it before `/v1/jobs/<job_id>` (which would be 422)."""
    stats = alice.client.get("/v1/jobs/stats")

    assert stats.status == 200
    assert stats.json["totals"] == zeros()
    assert stats.json["types"] == []
    assert stats.json["oldest_queued_age_s"] is None
    assert alice.client.get("/v1/jobs/statz").status == 422  # a job id that is not a uuid, as before


def test_stats_since_counts_only_the_newer_jobs(alice, jobs) -> None:  # type: ignore[no-untyped-def]
    with session() as s:
        s.execute(
            update(Job)
            .where(Job.id == uuid.UUID(jobs["failed"]))
            .values(created_at=datetime.now(UTC) - timedelta(days=2))
        )

    since = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    body = alice.client.get("/v1/jobs/stats", query={"since": since}).json

    assert body["totals"] == zeros(queued=1, running=1, cancelled=1)
    assert alice.client.get("/v1/jobs/stats", query={"since": "yesterday"}).status == 422


def test_the_admin_sees_the_whole_instance_and_a_member_cannot(alice, bob, admin, jobs) -> None:  # type: ignore[no-untyped-def]
    make_job(bob, type="media.thumbnail")

    instance = admin.client.get("/v1/admin/jobs/stats")

    assert instance.status == 200
    assert instance.json["totals"]["queued"] >= 2
    thumbnails = next(t for t in instance.json["types"] if t["type"] == "media.thumbnail")
    assert thumbnails["counts"]["queued"] == 2  # alice's and bob's
    assert alice.client.get("/v1/admin/jobs/stats").status == 403
    assert admin.client.get("/v1/jobs/stats").json["totals"] == zeros()  # the admin's own jobs: none


def test_the_stats_schema_has_a_count_for_every_status() -> None:
    assert set(StatusCounts.model_fields) == {status.value for status in JobStatus}
