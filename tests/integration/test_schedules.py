"""Recurring schedules: DST-correct slot times, the /v1/schedules API, and the `jobs.recurring` scheduler step."""

from __future__ import annotations

import itertools
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import BaseModel
from sqlalchemy import func, select, update

from shared.db import session
from shared.db.models import Job, Schedule, User
from shared.errors import InvalidInput
from shared.jobs import registry, schedules
from shared.jobs.admission import MAX_RETRY_DELAY_MS
from shared.jobs.context import JobContext
from shared.jobs.registry import job_type
from shared.jobs.schedules import Recurrence, next_runs

NOOP = "test.schedule_noop"


class Noop(BaseModel):
    label: str = "tick"
    count: int = 1


@job_type(NOOP, payload=Noop)
def noop(ctx: JobContext, payload: Noop) -> None:
    return None


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def body(**overrides: Any) -> dict[str, Any]:
    return {"name": "nightly", "job_type": NOOP, "payload": {"label": "x"}, "cron": "30 2 * * *", **overrides}


def make_due(schedule_id: str | uuid.UUID, at: datetime) -> None:
    """Pretend the clock moved on: the schedule's next slot is `at` (in the past)."""
    with session() as s:
        s.execute(update(Schedule).where(Schedule.id == uuid.UUID(str(schedule_id))).values(next_run_at=at))


def load(schedule_id: str | uuid.UUID) -> Schedule:
    with session() as s:
        found = s.get(Schedule, uuid.UUID(str(schedule_id)))
        assert found is not None
        return found


def jobs_of(schedule_id: str | uuid.UUID) -> list[Job]:
    with session() as s:
        return list(s.scalars(select(Job).where(Job.schedule_id == uuid.UUID(str(schedule_id))).order_by(Job.id)))


# --- slot times -------------------------------------------------------------------------------------------------


def test_a_daily_time_skipped_by_spring_forward_runs_once_at_the_end_of_the_gap() -> None:
    # Given 02:30 every day in Berlin, where 2025-03-30 jumps from 02:00 CET to 03:00 CEST
    runs = next_runs(Recurrence(cron="30 2 * * *", timezone="Europe/Berlin"), utc(2025, 3, 28, 12), 4)

    # Then that day runs once, at 03:00 CEST (01:00 UTC); the days around it run at 02:30 local
    assert runs == [utc(2025, 3, 29, 1, 30), utc(2025, 3, 30, 1, 0), utc(2025, 3, 31, 0, 30), utc(2025, 4, 1, 0, 30)]


def test_several_slots_inside_one_gap_collapse_into_one_run() -> None:
    # Given 02:00, 02:15, 02:30 and 02:45 in Berlin: all four are skipped on 2025-03-30
    runs = next_runs(Recurrence(cron="*/15 2 * * *", timezone="Europe/Berlin"), utc(2025, 3, 29, 12), 3)

    # Then the day has one run at the gap's end, and the next day all four again
    assert runs == [utc(2025, 3, 30, 1, 0), utc(2025, 3, 31, 0, 0), utc(2025, 3, 31, 0, 15)]


def test_an_hourly_cron_crosses_the_gap_without_a_duplicate() -> None:
    runs = next_runs(Recurrence(cron="30 * * * *", timezone="Europe/Berlin"), utc(2025, 3, 29, 23, 50), 4)

    # 01:30 CET, then 02:30 (skipped) → 03:00 CEST, then 03:30 CEST and 04:30 CEST
    assert runs == [utc(2025, 3, 30, 0, 30), utc(2025, 3, 30, 1, 0), utc(2025, 3, 30, 1, 30), utc(2025, 3, 30, 2, 30)]


def test_a_daily_time_repeated_by_fall_back_runs_once_at_its_first_occurrence() -> None:
    # Given 02:30 in Berlin, which happens twice on 2025-10-26 (CEST, then CET)
    runs = next_runs(Recurrence(cron="30 2 * * *", timezone="Europe/Berlin"), utc(2025, 10, 25, 12), 3)

    # Then it runs once that day, at the CEST 02:30 (00:30 UTC), and from the next day at CET 02:30
    assert runs == [utc(2025, 10, 26, 0, 30), utc(2025, 10, 27, 1, 30), utc(2025, 10, 28, 1, 30)]


def test_new_york_gap_and_overlap() -> None:
    # Spring forward, 2025-03-09 02:00 EST → 03:00 EDT: 02:30 runs at 03:00 EDT (07:00 UTC)
    spring = next_runs(Recurrence(cron="30 2 * * *", timezone="America/New_York"), utc(2025, 3, 8, 12), 2)
    assert spring == [utc(2025, 3, 9, 7, 0), utc(2025, 3, 10, 6, 30)]

    # Fall back, 2025-11-02 02:00 EDT → 01:00 EST: 01:30 runs once, the EDT one (05:30 UTC)
    fall = next_runs(Recurrence(cron="30 1 * * *", timezone="America/New_York"), utc(2025, 11, 1, 12), 3)
    assert fall == [utc(2025, 11, 2, 5, 30), utc(2025, 11, 3, 6, 30), utc(2025, 11, 4, 6, 30)]


def test_asking_from_inside_the_repeated_hour_skips_the_second_pass() -> None:
    # Given "every 20 minutes" and a moment in Berlin's second 02:xx (CET, 01:10 UTC on 2025-10-26)
    runs = next_runs(Recurrence(cron="*/20 * * * *", timezone="Europe/Berlin"), utc(2025, 10, 26, 1, 10), 2)

    # Then the repeated 02:20/02:40 are not run again: the next run is 03:00 CET
    assert runs == [utc(2025, 10, 26, 2, 0), utc(2025, 10, 26, 2, 20)]


def test_a_fixed_interval_is_exact_elapsed_time_from_its_anchor_across_dst() -> None:
    anchor = utc(2025, 3, 30, 0, 10, 5)
    runs = next_runs(Recurrence(interval_seconds=3600, timezone="Europe/Berlin", anchor=anchor), utc(2025, 3, 30, 1), 3)

    assert runs == [utc(2025, 3, 30, 1, 10, 5), utc(2025, 3, 30, 2, 10, 5), utc(2025, 3, 30, 3, 10, 5)]
    # A slot itself is not "after" itself
    assert next_runs(Recurrence(interval_seconds=60, anchor=anchor), anchor, 1) == [anchor + timedelta(minutes=1)]


# --- the API ----------------------------------------------------------------------------------------------------


def test_a_schedule_is_created_with_its_next_ten_runs_in_the_users_zone(alice) -> None:  # type: ignore[no-untyped-def]
    # Given alice lives in Berlin
    with session() as s:
        s.execute(update(User).where(User.id == alice.id).values(timezone="Europe/Berlin"))

    # When she creates a daily 02:30 schedule without naming a zone
    created = alice.client.post("/v1/schedules", json_body=body(priority="high"))

    # Then it uses her zone and shows the next 10 runs, in UTC and on her wall clock
    assert created.status == 201, created.json
    out = created.json
    assert (out["timezone"], out["cron"], out["interval_seconds"], out["enabled"]) == (
        "Europe/Berlin",
        "30 2 * * *",
        None,
        True,
    )
    assert (out["priority"], out["max_attempts"], out["payload"]) == ("high", 3, {"label": "x", "count": 1})
    runs = [datetime.fromisoformat(r) for r in out["next_runs"]]
    assert len(runs) == 10
    assert runs == sorted(runs)
    assert runs[0] > datetime.now(UTC)
    assert datetime.fromisoformat(out["next_run_at"]) == runs[0]
    assert all(r.utcoffset() == timedelta(0) for r in runs)
    local = [datetime.fromisoformat(r) for r in out["next_runs_local"]]
    assert local == runs
    assert {(t.hour, t.minute) for t in local} <= {(2, 30), (3, 0)}


def test_schedules_are_read_listed_updated_paused_resumed_and_deleted(alice) -> None:  # type: ignore[no-untyped-def]
    ids = [alice.client.post("/v1/schedules", json_body=body(name=f"s{i}")).json["id"] for i in range(3)]
    path = f"/v1/schedules/{ids[0]}"

    # Listing is newest first, in pages
    first = alice.client.get("/v1/schedules", query={"limit": "2"}).json
    assert [s["id"] for s in first["items"]] == ids[:0:-1]
    assert first["items"][0]["next_runs"]
    rest = alice.client.get("/v1/schedules", query={"limit": "2", "offset": str(first["next_offset"])}).json
    assert ([s["id"] for s in rest["items"]], rest["next_offset"]) == ([ids[0]], None)
    assert alice.client.get(path).json["name"] == "s0"

    # Switching to an interval clears the cron expression and spaces the runs exactly
    patched = alice.client.patch(path, json_body={"interval_seconds": 3600, "name": "hourly", "priority": "low"})
    assert patched.status == 200, patched.json
    out = patched.json
    assert (out["name"], out["cron"], out["interval_seconds"], out["priority"]) == ("hourly", None, 3600, "low")
    runs = [datetime.fromisoformat(r) for r in out["next_runs"]]
    assert {b - a for a, b in itertools.pairwise(runs)} == {timedelta(hours=1)}
    # And back to cron in New York
    back = alice.client.patch(path, json_body={"cron": "0 9 * * 1-5", "timezone": "America/New_York"}).json
    assert (back["cron"], back["interval_seconds"], back["timezone"]) == ("0 9 * * 1-5", None, "America/New_York")
    assert all(datetime.fromisoformat(t).hour == 9 for t in back["next_runs_local"])
    # An empty PATCH changes nothing
    assert alice.client.patch(path, json_body={}).json["next_runs"] == back["next_runs"]

    # Pausing hides the runs; resuming brings them back
    paused = alice.client.post(f"{path}/pause").json
    assert (paused["enabled"], paused["next_run_at"], paused["next_runs"]) == (False, None, [])
    resumed = alice.client.post(f"{path}/resume").json
    assert (resumed["enabled"], len(resumed["next_runs"])) == (True, 10)

    assert alice.client.delete(path).status == 204
    assert (alice.client.get(path).status, alice.client.get(path).error_code) == (404, "not_found")


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"job_type": "no.such.type"}, "unknown_job_type"),
        ({"payload": {"count": "many"}}, "invalid_payload"),
        ({"cron": "61 * * * *"}, "invalid_cron"),
        ({"cron": "0 0 * * * *"}, "invalid_cron"),
        ({"cron": "every day"}, "invalid_cron"),
        ({"cron": "0 0 31 2 *"}, "invalid_cron"),
        ({"cron": None}, "cron_or_interval"),
        ({"interval_seconds": 3600}, "cron_or_interval"),
        ({"cron": None, "interval_seconds": 59}, "invalid_interval"),
        ({"timezone": "Mars/Olympus"}, "invalid_timezone"),
        ({"priority": "urgent"}, "validation_failed"),
        ({"name": ""}, "validation_failed"),
        ({"max_attempts": 0}, "invalid_input"),
    ],
)
def test_bad_schedules_are_refused_with_a_clear_code(alice, overrides: dict[str, Any], code: str) -> None:  # type: ignore[no-untyped-def]
    response = alice.client.post("/v1/schedules", json_body=body(**overrides))

    assert (response.status, response.error_code) == (422, code), response.json
    with session() as s:
        assert s.scalar(select(func.count()).select_from(Schedule)) == 0


def test_bad_updates_are_refused_and_change_nothing(alice) -> None:  # type: ignore[no-untyped-def]
    path = f"/v1/schedules/{alice.client.post('/v1/schedules', json_body=body()).json['id']}"
    before = alice.client.get(path).json

    for patch, code in [
        ({"cron": "nope"}, "invalid_cron"),
        ({"cron": None}, "cron_or_interval"),
        ({"cron": "* * * * *", "interval_seconds": 60}, "cron_or_interval"),
        ({"payload": {"count": "x"}}, "invalid_payload"),
        ({"timezone": "Nowhere/Else"}, "invalid_timezone"),
        ({"name": None}, "invalid_input"),
        ({"job_type": NOOP}, "validation_failed"),
    ]:
        response = alice.client.patch(path, json_body=patch)
        assert (response.status, response.error_code) == (422, code), (patch, response.json)
    assert alice.client.get(path).json == before


def test_a_schedules_retry_delay_is_shown_changed_and_cleared(alice) -> None:  # type: ignore[no-untyped-def]
    # Given a schedule with its own retry delay
    created = alice.client.post("/v1/schedules", json_body=body(retry_delay_ms=45_000))
    assert created.status == 201, created.json
    assert created.json["retry_delay_ms"] == 45_000
    path = f"/v1/schedules/{created.json['id']}"

    # Then it is shown, changed by PATCH (the bound is admission's, inclusive), and cleared by null
    assert alice.client.get(path).json["retry_delay_ms"] == 45_000
    assert alice.client.patch(path, json_body={"retry_delay_ms": MAX_RETRY_DELAY_MS}).json["retry_delay_ms"] == (
        MAX_RETRY_DELAY_MS
    )
    assert alice.client.patch(path, json_body={"retry_delay_ms": 0}).json["retry_delay_ms"] == 0
    assert alice.client.patch(path, json_body={"name": "other"}).json["retry_delay_ms"] == 0
    assert alice.client.patch(path, json_body={"retry_delay_ms": None}).json["retry_delay_ms"] is None
    # And a schedule created without one has none (its jobs take the type's)
    assert alice.client.post("/v1/schedules", json_body=body()).json["retry_delay_ms"] is None


@pytest.mark.parametrize("bad", [-1, MAX_RETRY_DELAY_MS + 1, "5000", 5000.0, True])
def test_a_retry_delay_out_of_bounds_or_not_an_integer_is_refused(alice, bad: Any) -> None:  # type: ignore[no-untyped-def]
    # Creating with it is refused, and nothing is stored
    response = alice.client.post("/v1/schedules", json_body=body(retry_delay_ms=bad))
    assert (response.status, response.error_code) == (422, "validation_failed"), response.json
    with session() as s:
        assert s.scalar(select(func.count()).select_from(Schedule)) == 0

    # Patching with it is refused, and nothing changes
    path = f"/v1/schedules/{alice.client.post('/v1/schedules', json_body=body(retry_delay_ms=7)).json['id']}"
    response = alice.client.patch(path, json_body={"retry_delay_ms": bad})
    assert (response.status, response.error_code) == (422, "validation_failed"), response.json
    assert alice.client.get(path).json["retry_delay_ms"] == 7


def test_the_service_refuses_a_retry_delay_by_admissions_own_check(alice) -> None:  # type: ignore[no-untyped-def]
    # A caller that skips the API's schema (a script, another service) meets the same bound as every new job
    with pytest.raises(InvalidInput) as refused:
        schedules.create_schedule(
            alice.id, name="n", job_type=NOOP, payload={}, cron="* * * * *", retry_delay_ms=MAX_RETRY_DELAY_MS + 1
        )
    assert refused.value.details == {"field": "retry_delay_ms"}
    sid = alice.client.post("/v1/schedules", json_body=body()).json["id"]
    with pytest.raises(InvalidInput):
        schedules.update_schedule(alice.id, uuid.UUID(sid), retry_delay_ms=-1)
    assert load(sid).retry_delay_ms is None


def test_another_users_schedule_is_not_found(alice, bob) -> None:  # type: ignore[no-untyped-def]
    path = f"/v1/schedules/{alice.client.post('/v1/schedules', json_body=body()).json['id']}"

    for response in (
        bob.client.get(path),
        bob.client.patch(path, json_body={"name": "mine"}),
        bob.client.post(f"{path}/pause"),
        bob.client.post(f"{path}/resume"),
        bob.client.delete(path),
    ):
        assert (response.status, response.error_code) == (404, "not_found")
    assert bob.client.get("/v1/schedules").json["items"] == []
    assert alice.client.get(path).json["name"] == "nightly"


# --- the scheduler step -----------------------------------------------------------------------------------------


def test_a_due_slot_becomes_one_job_and_the_schedule_moves_on(aws_env, alice) -> None:  # type: ignore[no-untyped-def]
    # Given a daily schedule whose slot (today's midnight UTC) came due
    daily = body(cron="0 0 * * *", timezone="UTC", priority="critical")
    sid = alice.client.post("/v1/schedules", json_body=daily).json["id"]
    slot = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    make_due(sid, slot)

    # When the scheduler ticks
    assert schedules.run_due_schedules() == 1

    # Then one job exists for that slot, carrying the schedule's settings
    [job] = jobs_of(sid)
    assert (job.user_id, job.type, job.payload, job.priority, job.status) == (
        alice.id,
        NOOP,
        {"label": "x", "count": 1},
        0,
        "queued",
    )
    assert job.idempotency_key == f"schedule:{sid}:{slot.isoformat()}"
    schedule = load(sid)
    assert (schedule.last_run_at, schedule.last_job_id) == (slot, job.id)
    assert schedule.next_run_at is not None
    assert schedule.next_run_at == slot + timedelta(days=1)
    # And a second tick finds nothing due
    assert schedules.run_due_schedules() == 0
    assert len(jobs_of(sid)) == 1


def test_a_schedules_jobs_carry_its_retry_delay_and_null_means_the_types(aws_env, alice) -> None:  # type: ignore[no-untyped-def]
    # Given two due schedules: one with its own retry delay (above the type's cap), one without
    slot = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    own = alice.client.post("/v1/schedules", json_body=body(cron="0 0 * * *", retry_delay_ms=400_000)).json["id"]
    default = alice.client.post("/v1/schedules", json_body=body(cron="0 0 * * *", name="default")).json["id"]
    for sid in (own, default):
        make_due(sid, slot)

    # When the scheduler ticks
    assert schedules.run_due_schedules() == 2

    # Then the first one's job has the schedule's delay (the cap rises to it, as for POST /v1/jobs) ...
    spec = registry.get_job_type(NOOP)
    assert spec is not None
    [job] = jobs_of(own)
    assert alice.client.get(f"/v1/jobs/{job.id}").json["retry_delay_ms"] == 400_000
    assert (job.retry_base_ms, job.retry_cap_ms) == (400_000, 400_000)
    # ... and the other's has the job type's own
    [job] = jobs_of(default)
    assert alice.client.get(f"/v1/jobs/{job.id}").json["retry_delay_ms"] == spec.retry_base_ms
    assert (job.retry_base_ms, job.retry_cap_ms) == (spec.retry_base_ms, spec.retry_cap_ms)


def test_a_slot_handled_twice_still_makes_one_job(aws_env, alice) -> None:  # type: ignore[no-untyped-def]
    # Given a slot that was handled, and then (a stale tick) is handled again
    sid = alice.client.post("/v1/schedules", json_body=body(cron="0 0 * * *", timezone="UTC")).json["id"]
    slot = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    make_due(sid, slot)
    assert schedules.run_due_schedules() == 1
    make_due(sid, slot)  # the idempotency key is what stops this one

    # When it runs
    assert schedules.run_due_schedules() == 0

    # Then the first job is the only one
    assert len(jobs_of(sid)) == 1


def test_two_overlapping_ticks_create_exactly_one_job_per_slot(aws_env, make_user) -> None:  # type: ignore[no-untyped-def]
    # Given 30 due schedules
    user = make_user()
    slot = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
    ids = [user.client.post("/v1/schedules", json_body=body(cron="* * * * *")).json["id"] for _ in range(30)]
    for sid in ids:
        make_due(sid, slot)

    # When two ticks run at the same moment, each on its own connection
    start = threading.Barrier(2)
    counts: list[int] = []
    errors: list[BaseException] = []

    def tick() -> None:
        try:
            start.wait()
            counts.append(schedules.run_due_schedules())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=tick) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    # Then every slot produced exactly one job, whichever tick made it
    assert errors == []
    assert sum(counts) == 30
    for sid in ids:
        assert len(jobs_of(sid)) == 1


def test_after_an_outage_only_the_latest_missed_slot_runs(aws_env, alice) -> None:  # type: ignore[no-untyped-def]
    # Given an hourly schedule last due three days ago (72 slots missed)
    sid = alice.client.post("/v1/schedules", json_body=body(cron="0 * * * *", timezone="UTC")).json["id"]
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    make_due(sid, hour - timedelta(days=3))

    # When the scheduler comes back
    assert schedules.run_due_schedules() == 1

    # Then one job ran, for the most recent hour (measured around the tick), and the next slot is the coming hour
    [job] = jobs_of(sid)
    schedule = load(sid)
    assert schedule.last_run_at in (hour, datetime.now(UTC).replace(minute=0, second=0, microsecond=0))
    assert job.idempotency_key == f"schedule:{sid}:{schedule.last_run_at.isoformat()}"
    assert schedule.next_run_at == schedule.last_run_at + timedelta(hours=1)


def test_an_interval_schedule_after_an_outage_runs_once_on_its_grid(aws_env, alice) -> None:  # type: ignore[no-untyped-def]
    sid = alice.client.post("/v1/schedules", json_body=body(cron=None, interval_seconds=600)).json["id"]
    anchor = load(sid).created_at
    make_due(sid, anchor - timedelta(hours=2))  # a slot on the same grid, 12 intervals ago

    assert schedules.run_due_schedules() == 1

    schedule = load(sid)
    assert schedule.last_run_at == anchor
    assert schedule.next_run_at == anchor + timedelta(minutes=10)
    assert len(jobs_of(sid)) == 1


def test_a_paused_schedule_makes_no_jobs_and_resumes_without_a_backlog(aws_env, alice) -> None:  # type: ignore[no-untyped-def]
    # Given a due schedule that alice pauses
    sid = alice.client.post("/v1/schedules", json_body=body(cron="*/5 * * * *")).json["id"]
    make_due(sid, datetime.now(UTC) - timedelta(hours=1))
    alice.client.post(f"/v1/schedules/{sid}/pause")

    # Then ticks make no jobs
    assert schedules.run_due_schedules() == 0
    assert jobs_of(sid) == []

    # When she resumes, Then the next run is the next slot from now, and nothing missed while paused runs
    resumed = alice.client.post(f"/v1/schedules/{sid}/resume").json
    next_run_at = datetime.fromisoformat(resumed["next_run_at"])
    assert datetime.now(UTC) < next_run_at <= datetime.now(UTC) + timedelta(minutes=5)
    assert next_run_at.minute % 5 == 0
    assert schedules.run_due_schedules() == 0
    assert jobs_of(sid) == []


def test_a_schedule_that_cannot_make_its_job_skips_the_slot_without_blocking_others(aws_env, alice) -> None:  # type: ignore[no-untyped-def]
    # Given two due schedules, one of whose job type no longer exists in this deployment
    good = alice.client.post("/v1/schedules", json_body=body(cron="* * * * *")).json["id"]
    bad = alice.client.post("/v1/schedules", json_body=body(cron="* * * * *")).json["id"]
    slot = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
    with session() as s:
        s.execute(update(Schedule).where(Schedule.id == uuid.UUID(bad)).values(job_type="gone.type"))
    make_due(good, slot)
    make_due(bad, slot)

    # When the scheduler ticks
    assert schedules.run_due_schedules() == 1

    # Then the good one has its job, and the bad one moved past the slot instead of retrying it every minute
    assert len(jobs_of(good)) == 1
    assert jobs_of(bad) == []
    broken = load(bad)
    assert broken.next_run_at is not None
    assert broken.next_run_at > slot
    assert broken.last_job_id is None


def test_the_scheduler_function_runs_the_recurring_step(aws_env, alice) -> None:  # type: ignore[no-untyped-def]
    from functions.scheduler.handler import handler
    from local.events import scheduled_event
    from local.lambda_context import LambdaContext

    sid = alice.client.post("/v1/schedules", json_body=body(cron="* * * * *")).json["id"]
    make_due(sid, datetime.now(UTC).replace(second=0, microsecond=0))

    result = handler(scheduled_event(), LambdaContext("conveyor-test-scheduler", timeout_s=60))

    assert result["steps"]["jobs.recurring"] == 1
    assert len(jobs_of(sid)) == 1


registry.use(noop)  # offered as a composition root would
