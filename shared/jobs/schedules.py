"""Recurring schedules (seed 001): a job type and payload run by a cron expression in an IANA zone, or every N seconds.

Slot times follow these rules (docs/schedules.md has the worked examples):

- A cron expression is evaluated on the wall clock of `timezone`; each local slot is then turned into one UTC
  instant. A local time skipped by spring-forward runs once, at the first valid instant after the gap (02:30 in
  Europe/Berlin on the last Sunday of March runs at 03:00 CEST); several slots inside one gap collapse into that
  single run. A local time repeated by fall-back runs once, at its first occurrence (the summer-time one).
- A fixed interval ignores the zone: slots are `created_at + k * interval_seconds`, exact elapsed time.

The scheduler step `jobs.recurring` turns due slots into jobs. A slot produces exactly one job even when two ticks
overlap: due rows are claimed `FOR UPDATE SKIP LOCKED`, and the job's idempotency key `schedule:<id>:<slot>` is
unique per user, so a slot that is handled twice finds the first job. After an outage only the most recent missed
slot runs (the others are skipped, no thundering herd); pausing and resuming likewise never replays a backlog.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo

from aws_lambda_powertools import Logger
from cronsim import CronSim, CronSimError
from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.db import session
from shared.db.enums import JobPriority
from shared.db.models import Schedule, User
from shared.errors import ConveyorError, InvalidInput, NotFound
from shared.jobs.admission import JobRequest, Origin, admit, check_max_attempts, parse_payload, resolve_type
from shared.jobs.service import create_job
from shared.timezones import check_timezone

logger = Logger(child=True)

MIN_INTERVAL_S = 60  # the scheduler ticks once a minute: anything shorter could not be honoured
MAX_INTERVAL_S = 366 * 24 * 3600
MAX_NAME_CHARS = 200
MAX_PAGE = 100
PREVIEW_RUNS = 10
DUE_BATCH = 100
# Bounds the work of one next-runs call (a repeated fall-back hour of an every-minute cron filters 60 slots).
_MAX_CANDIDATES = 10_000


class Unset(Enum):
    """Marks a PATCH field the caller left out, where None is a meaningful value."""

    UNSET = "unset"


UNSET = Unset.UNSET


@dataclass(frozen=True)
class Recurrence:
    """When a schedule fires: `cron` on the wall clock of `timezone`, or every `interval_seconds` from `anchor`."""

    cron: str | None = None
    interval_seconds: int | None = None
    timezone: str = "UTC"
    anchor: datetime | None = None

    @classmethod
    def of(cls, schedule: Schedule) -> Recurrence:
        return cls(schedule.cron_expression, schedule.interval_seconds, schedule.timezone, schedule.created_at)


@dataclass(frozen=True)
class SchedulePage:
    items: list[Schedule]
    next_offset: int | None


# --- slot arithmetic --------------------------------------------------------------------------------------------


def check_cron(expression: str) -> str:
    """A standard 5-field expression (minute hour day-of-month month day-of-week) that fires at least once."""
    expression = " ".join(expression.split())
    if len(expression.split(" ")) != 5:
        raise InvalidInput(
            "A cron expression has 5 fields: minute hour day-of-month month day-of-week.",
            code="invalid_cron",
            details={"field": "cron", "value": expression},
        )
    try:
        next(CronSim(expression, datetime(2000, 1, 1)))
    except (CronSimError, StopIteration) as exc:
        message = str(exc) or "The expression never fires."
        raise InvalidInput(
            f"Invalid cron expression: {message}",
            code="invalid_cron",
            details={"field": "cron", "value": expression},
        ) from exc
    return expression


def check_interval(seconds: int) -> int:
    if not MIN_INTERVAL_S <= seconds <= MAX_INTERVAL_S:
        raise InvalidInput(
            f"interval_seconds is {MIN_INTERVAL_S}-{MAX_INTERVAL_S}.",
            code="invalid_interval",
            details={"field": "interval_seconds", "value": seconds},
        )
    return seconds


def local_to_utc(local: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant of naive wall-clock time `local` in `zone`, by the DST rules in the module docstring.

    A repeated (fall-back) time takes fold=0, its first occurrence. A skipped (spring-forward) time moves to the
    transition itself, the first instant that exists after the gap, found by bisection between the two readings
    of the naive time (before and after offsets), so gaps of any size (30 min, 1 h, a whole skipped day) work.
    """
    first = local.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == local:
        return first
    # In a gap, fold=0 reads with the offset before the transition (the later instant) and fold=1 with the one
    # after it (the earlier instant); the transition lies between them.
    lo = local.replace(tzinfo=zone, fold=1).astimezone(UTC)
    hi = first
    after_offset = hi.astimezone(zone).utcoffset()
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        mid = mid.replace(microsecond=0)
        if mid.astimezone(zone).utcoffset() == after_offset:
            hi = mid
        else:
            lo = mid
    return hi


def _cron_slots(cron: str, zone: ZoneInfo, after: datetime) -> Iterator[datetime]:
    """UTC slots strictly after `after`, increasing, each at most once."""
    start = after.astimezone(zone).replace(tzinfo=None)
    previous = after
    try:
        for i, local in enumerate(CronSim(cron, start)):
            if i >= _MAX_CANDIDATES:
                return
            at = local_to_utc(local, zone)
            # <= drops the second pass through a repeated hour and slots collapsed onto one gap's end.
            if at <= previous:
                continue
            previous = at
            yield at
    except StopIteration:  # cronsim gives up after 50 years without a match
        return


def _interval_slots(interval_s: int, anchor: datetime, after: datetime) -> Iterator[datetime]:
    step_ = timedelta(seconds=interval_s)
    k = max(0, (after - anchor) // step_ + 1)
    while True:
        yield anchor + k * step_
        k += 1


def next_runs(recurrence: Recurrence, after: datetime, n: int = PREVIEW_RUNS) -> list[datetime]:
    """The next `n` slots strictly after `after`, as UTC datetimes."""
    if after.tzinfo is None:
        raise ValueError("`after` must be timezone-aware")
    if recurrence.cron is not None:
        slots = _cron_slots(recurrence.cron, ZoneInfo(recurrence.timezone), after)
    elif recurrence.interval_seconds is not None:
        slots = _interval_slots(recurrence.interval_seconds, recurrence.anchor or after, after)
    else:
        raise ValueError("a recurrence needs a cron expression or an interval")
    result: list[datetime] = []
    for at in slots:
        if len(result) == n:
            break
        result.append(at.astimezone(UTC))
    return result


def next_run(recurrence: Recurrence, after: datetime) -> datetime | None:
    runs = next_runs(recurrence, after, 1)
    return runs[0] if runs else None


def latest_slot(recurrence: Recurrence, *, due: datetime, now: datetime) -> datetime:
    """The most recent slot in [due, now] (`due` is a slot itself): the one an overdue schedule runs for.

    Windows grow until one holds a slot, so an every-minute cron after a week's outage reads ~60 slots, not 10,000.
    """
    if recurrence.interval_seconds is not None:
        anchor = recurrence.anchor or due
        step_ = timedelta(seconds=recurrence.interval_seconds)
        return max(due, anchor + ((now - anchor) // step_) * step_)
    floor = due - timedelta(microseconds=1)
    for window in (timedelta(hours=1), timedelta(days=1), timedelta(days=32), timedelta(days=400), None):
        start = floor if window is None else max(floor, now - window)
        latest = None
        for at in _cron_slots(recurrence.cron or "", ZoneInfo(recurrence.timezone), start):
            if at > now:
                break
            latest = at
        if latest is not None:
            return latest
    return due


# --- validation -------------------------------------------------------------------------------------------------


def checked_payload(job_type: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The payload as the job type's model normalises it, by the same admission checks as every new job: a
    schedule is as untrusted as the API, so internal types are refused exactly as POST /v1/jobs refuses them."""
    spec = resolve_type(job_type, Origin.SCHEDULE)
    return parse_payload(spec, payload).model_dump(mode="json")


def checked_retry_delay(job_type: str, payload: dict[str, Any], retry_delay_ms: int | None) -> int | None:
    """A schedule's retry delay (None: the job type's), by admission itself, as each of its jobs will be: a
    schedule cannot hold a value its jobs would be refused, and the bound is written once (MAX_RETRY_DELAY_MS)."""
    if retry_delay_ms is not None:
        request = JobRequest(type=job_type, payload=payload, retry_delay_ms=retry_delay_ms)
        admit(None, None, [request], origin=Origin.SCHEDULE)  # no user, no ids: nothing to look up, no cost
    return retry_delay_ms


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not 1 <= len(name) <= MAX_NAME_CHARS:
        raise InvalidInput(f"A schedule name is 1-{MAX_NAME_CHARS} characters.", details={"field": "name"})
    return name


def _recurrence(cron: str | None, interval_seconds: int | None, timezone: str) -> tuple[str | None, int | None]:
    if (cron is None) == (interval_seconds is None):
        raise InvalidInput(
            "Give either a cron expression or interval_seconds, not both and not neither.",
            code="cron_or_interval",
            details={"fields": ["cron", "interval_seconds"]},
        )
    check_timezone(timezone)
    if cron is not None:
        return check_cron(cron), None
    return None, check_interval(interval_seconds)  # type: ignore[arg-type]


# --- the service ------------------------------------------------------------------------------------------------


def _owned(s: Session, user_id: uuid.UUID, schedule_id: uuid.UUID, *, lock: bool = False) -> Schedule:
    query = select(Schedule).where(Schedule.id == schedule_id, Schedule.user_id == user_id)
    schedule = s.scalar(query.with_for_update() if lock else query)
    if schedule is None:
        raise NotFound("No such schedule.")
    return schedule


def _reschedule(schedule: Schedule, now: datetime) -> None:
    """Point next_run_at at the first slot after now (None while paused): no backlog is ever replayed."""
    schedule.next_run_at = next_run(Recurrence.of(schedule), now) if schedule.enabled else None


def create_schedule(
    user_id: uuid.UUID,
    *,
    name: str,
    job_type: str,
    payload: dict[str, Any],
    cron: str | None = None,
    interval_seconds: int | None = None,
    timezone: str | None = None,
    priority: JobPriority = JobPriority.NORMAL,
    max_attempts: int | None = None,
    retry_delay_ms: int | None = None,
    enabled: bool = True,
) -> Schedule:
    """Validate everything before writing; `timezone` defaults to the user's own zone."""
    name = _clean_name(name)
    payload = checked_payload(job_type, payload)
    spec = resolve_type(job_type, Origin.SCHEDULE)
    attempts = check_max_attempts(max_attempts if max_attempts is not None else spec.max_attempts)
    retry_delay_ms = checked_retry_delay(job_type, payload, retry_delay_ms)
    with session() as s:
        if timezone is None:
            timezone = s.scalar(select(User.timezone).where(User.id == user_id)) or "UTC"
        cron, interval_seconds = _recurrence(cron, interval_seconds, timezone)
        schedule = Schedule(
            user_id=user_id,
            name=name,
            job_type=job_type,
            payload=payload,
            priority=int(priority),
            max_attempts=attempts,
            retry_delay_ms=retry_delay_ms,
            cron_expression=cron,
            interval_seconds=interval_seconds,
            timezone=timezone,
            enabled=enabled,
        )
        s.add(schedule)
        s.flush()
        s.refresh(schedule)  # created_at, the interval anchor
        _reschedule(schedule, datetime.now(UTC))
        s.flush()
        s.refresh(schedule)
    return schedule


def list_schedules(user_id: uuid.UUID, *, limit: int = 50, offset: int = 0) -> SchedulePage:
    """Newest first; one row more than asked is read to know whether a next page exists."""
    if not 1 <= limit <= MAX_PAGE or offset < 0:
        raise InvalidInput(f"limit is 1-{MAX_PAGE} and offset at least 0.")
    query = (
        select(Schedule)
        .where(Schedule.user_id == user_id)
        .order_by(Schedule.created_at.desc(), Schedule.id.desc())
        .offset(offset)
        .limit(limit + 1)
    )
    with session() as s:
        rows = list(s.scalars(query))
    return SchedulePage(items=rows[:limit], next_offset=offset + limit if len(rows) > limit else None)


def get_schedule(user_id: uuid.UUID, schedule_id: uuid.UUID) -> Schedule:
    with session() as s:
        return _owned(s, user_id, schedule_id)


def update_schedule(
    user_id: uuid.UUID,
    schedule_id: uuid.UUID,
    *,
    name: str | Unset = UNSET,
    payload: dict[str, Any] | Unset = UNSET,
    cron: str | Unset | None = UNSET,
    interval_seconds: int | Unset | None = UNSET,
    timezone: str | Unset = UNSET,
    priority: JobPriority | Unset = UNSET,
    max_attempts: int | Unset = UNSET,
    retry_delay_ms: int | Unset | None = UNSET,
    enabled: bool | Unset = UNSET,
) -> Schedule:
    """Change what was given. Setting `cron` clears the interval and vice versa; a changed recurrence, zone or
    a resume recomputes next_run_at from now. `retry_delay_ms=None` returns to the job type's delay."""
    with session() as s:
        schedule = _owned(s, user_id, schedule_id, lock=True)
        if not isinstance(name, Unset):
            schedule.name = _clean_name(name)
        if not isinstance(payload, Unset):
            schedule.payload = checked_payload(schedule.job_type, payload)
        if not isinstance(priority, Unset):
            schedule.priority = int(priority)
        if not isinstance(max_attempts, Unset):
            schedule.max_attempts = check_max_attempts(max_attempts)
        if not isinstance(retry_delay_ms, Unset):
            schedule.retry_delay_ms = checked_retry_delay(schedule.job_type, schedule.payload, retry_delay_ms)

        new_cron, new_interval = schedule.cron_expression, schedule.interval_seconds
        if not isinstance(cron, Unset) and not isinstance(interval_seconds, Unset):
            new_cron, new_interval = cron, interval_seconds  # _recurrence refuses both or neither
        elif not isinstance(cron, Unset):
            new_cron, new_interval = cron, (None if cron is not None else new_interval)
        elif not isinstance(interval_seconds, Unset):
            new_cron, new_interval = (None if interval_seconds is not None else new_cron), interval_seconds
        new_zone = schedule.timezone if isinstance(timezone, Unset) else timezone
        new_cron, new_interval = _recurrence(new_cron, new_interval, new_zone)
        new_enabled = schedule.enabled if isinstance(enabled, Unset) else enabled

        changed = (new_cron, new_interval, new_zone) != (
            schedule.cron_expression,
            schedule.interval_seconds,
            schedule.timezone,
        )
        resumed = new_enabled and not schedule.enabled
        schedule.cron_expression, schedule.interval_seconds, schedule.timezone = new_cron, new_interval, new_zone
        schedule.enabled = new_enabled
        if changed or resumed or not new_enabled:
            _reschedule(schedule, datetime.now(UTC))
        s.flush()
        s.refresh(schedule)
    return schedule


def pause_schedule(user_id: uuid.UUID, schedule_id: uuid.UUID) -> Schedule:
    return update_schedule(user_id, schedule_id, enabled=False)


def resume_schedule(user_id: uuid.UUID, schedule_id: uuid.UUID) -> Schedule:
    """Resume from now: slots that passed while paused are not run."""
    return update_schedule(user_id, schedule_id, enabled=True)


def delete_schedule(user_id: uuid.UUID, schedule_id: uuid.UUID) -> None:
    """Its jobs stay (their schedule_id becomes NULL)."""
    with session() as s:
        s.delete(_owned(s, user_id, schedule_id, lock=True))


def upcoming_runs(schedule: Schedule, n: int = PREVIEW_RUNS) -> list[datetime]:
    """What the API shows: next_run_at and the slots after it; nothing while paused."""
    if not schedule.enabled or schedule.next_run_at is None:
        return []
    first = schedule.next_run_at.astimezone(UTC)
    return [first, *next_runs(Recurrence.of(schedule), first, n - 1)]


# --- the scheduler step -----------------------------------------------------------------------------------------


def slot_key(schedule_id: uuid.UUID, slot: datetime) -> str:
    return f"schedule:{schedule_id}:{slot.astimezone(UTC).isoformat()}"


def run_due_schedules() -> int:
    """Create one job for each due schedule (for its most recent due slot) and advance it; returns jobs created.

    Only rows on the partial index `ix_schedules_due` are read. Rows another tick holds are skipped; a schedule
    whose job cannot be created (its type was removed, its payload no longer fits, the owner lacks credits) skips
    the slot with a warning instead of blocking the batch or retrying every minute.
    """
    now = datetime.now(UTC)
    created = 0
    with session() as s:
        due = list(
            s.scalars(
                select(Schedule)
                .where(Schedule.enabled, Schedule.next_run_at <= now)
                .order_by(Schedule.next_run_at)
                .limit(DUE_BATCH)
                .with_for_update(skip_locked=True)
            )
        )
        for schedule in due:
            recurrence = Recurrence.of(schedule)
            assert schedule.next_run_at is not None
            slot = latest_slot(recurrence, due=schedule.next_run_at.astimezone(UTC), now=now)
            try:
                with s.begin_nested():
                    result = create_job(
                        user_id=schedule.user_id,
                        type=schedule.job_type,
                        payload=schedule.payload,
                        priority=JobPriority(schedule.priority),
                        max_attempts=schedule.max_attempts,
                        retry_delay_ms=schedule.retry_delay_ms,
                        name=schedule.name,
                        idempotency_key=slot_key(schedule.id, slot),
                        schedule_id=schedule.id,
                        origin=Origin.SCHEDULE,
                        s=s,
                    )
                created += int(result.created)
                schedule.last_job_id = result.job.id
                schedule.last_run_at = slot
            except ConveyorError as exc:
                logger.warning(
                    "scheduled job not created; slot skipped",
                    schedule_id=str(schedule.id),
                    slot=slot.isoformat(),
                    code=exc.code,
                    error=exc.message,
                )
            schedule.next_run_at = next_run(recurrence, max(slot, now))  # the slot after the one handled
    return created
