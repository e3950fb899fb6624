"""Running jobs: claim the best runnable ones, call their handlers, record the outcome.

A batch of wake-ups claims that many jobs in one statement (`FOR UPDATE SKIP LOCKED`, highest priority and
oldest run_at first), so concurrent workers never take the same job and a duplicate delivery never runs a job
twice: a job can only be claimed from `queued` or `retrying`. Each outcome is written in one transaction
together with its consequences (credits captured or released, the webhook queued, the retry's wake-up).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ValidationError
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from shared.billing import ledger
from shared.db.enums import RUNNABLE_JOB_STATUSES, JobStatus
from shared.db.models import Job, JobSegment
from shared.db.session import session
from shared.jobs import segments, wakeups
from shared.jobs.context import JobContext
from shared.jobs.errors import AwaitSegments, JobCancelled, LeaseLost, NonRetryable
from shared.jobs.registry import get_job_type
from shared.jobs.service import held_credit_ref
from shared.jobs.states import TRANSITIONS, Action, apply, apply_all

logger = Logger(child=True)

LEASE_MARGIN_S = 30  # a lease outlives the invocation by this much, then the sweep may take the job back
FLUSH_AFTER_S = 0.05  # successes finished within this window are written in one transaction


@dataclass
class Outcome:
    job_id: Any
    type: str
    status: str
    duration_ms: float
    queue_latency_ms: float | None = None


@dataclass
class BatchResult:
    claimed: int = 0
    outcomes: list[Outcome] = field(default_factory=list)


def backoff_ms(attempt: int, base_ms: int, cap_ms: int) -> int:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2**(attempt-1))]."""
    ceiling = min(cap_ms, base_ms * 2 ** max(0, attempt - 1))
    return int(random.uniform(0, ceiling))  # noqa: S311 (jitter, not secrecy)


def claim(s: Session, limit: int, worker: str, lease_cap_s: int, worker_id: Any = None) -> list[Job]:
    runnable = (
        select(Job.id)
        .where(Job.status.in_([str(x) for x in RUNNABLE_JOB_STATUSES]), Job.run_at <= func.now())
        .order_by(Job.priority, Job.run_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    lease_s = func.least(Job.timeout_s, lease_cap_s)
    return apply_all(
        s,
        Action.CLAIM,
        Job.id.in_(runnable.scalar_subquery()),
        attempts=Job.attempts + 1,
        locked_by=worker,
        worker_id=worker_id,
        lease_expires_at=func.now() + func.make_interval(0, 0, 0, 0, 0, 0, lease_s),
        started_at=func.coalesce(Job.started_at, func.now()),
    )


def run_batch(limit: int, *, worker: str, remaining_ms: Callable[[], int], worker_id: Any = None) -> BatchResult:
    """Claim up to `limit` jobs and run them one after another (one Lambda invocation runs one thing at a time).

    Successes are recorded in groups: one transaction for all the jobs that succeeded within FLUSH_AFTER_S of
    each other, instead of one per job. If the invocation dies before a group is written, those jobs run again
    when their leases expire — what a crash mid-job causes anyway, for at most FLUSH_AFTER_S of finished work.
    Failures, retries and cancellations are written at once.
    """
    lease_cap_s = max(1, remaining_ms() // 1000 + LEASE_MARGIN_S)
    with session() as s:
        jobs = claim(s, limit, worker, lease_cap_s, worker_id)
        jobs.sort(key=lambda j: (j.priority, j.run_at))
    result = BatchResult(claimed=len(jobs))
    succeeded: list[tuple[Job, _Success, Outcome]] = []
    for job in jobs:
        outcome, success = run_one(job, worker=worker, remaining_ms=remaining_ms, lease_s=lease_cap_s)
        result.outcomes.append(outcome)
        if success is not None:
            succeeded.append((job, success, outcome))
            if time.monotonic() - succeeded[0][1].at >= FLUSH_AFTER_S:
                _record_successes(succeeded, worker)
                succeeded = []
    if succeeded:
        _record_successes(succeeded, worker)
    return result


@dataclass
class _Success:
    result: dict[str, Any] | None
    at: float = field(default_factory=time.monotonic)


def run_one(job: Job, *, worker: str, remaining_ms: Callable[[], int], lease_s: int) -> tuple[Outcome, _Success | None]:
    started = time.monotonic()
    latency = (datetime.now(UTC) - job.run_at).total_seconds() * 1000 if job.attempts == 1 else None
    ctx = JobContext(
        job_id=job.id,
        user_id=job.user_id,
        type=job.type,
        attempt=job.attempts,
        max_attempts=job.max_attempts,
        worker=worker,
        lease_s=min(job.timeout_s, lease_s),
        remaining_ms=remaining_ms,
        total=job.total,
    )
    status = _execute(job, ctx)
    outcome = Outcome(job.id, job.type, "pending" if isinstance(status, _Success) else status, 0.0, latency)
    outcome.duration_ms = (time.monotonic() - started) * 1000
    return outcome, status if isinstance(status, _Success) else None


_SUCCEED_SQL = """
UPDATE jobs SET
  status = CASE WHEN jobs.failure_count > 0 THEN 'review' ELSE 'completed' END,
  result = v.result, error = NULL, error_details = NULL, progress = 100,
  locked_by = NULL, lease_expires_at = NULL, finished_at = now(), updated_at = now()
FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS v(id uuid, result jsonb)
WHERE jobs.id = v.id AND jobs.locked_by = :worker AND jobs.status IN ({sources})
RETURNING jobs.*
"""


def _record_successes(succeeded: list[tuple[Job, _Success, Outcome]], worker: str) -> None:
    """One statement for the whole group, guarded like every transition (legal source state, our lease)."""
    sources = ", ".join(f"'{x}'" for x in sorted(TRANSITIONS[Action.SUCCEED].sources))
    statement = text(_SUCCEED_SQL.format(sources=sources)).columns(*Job.__table__.columns)
    rows = json.dumps([{"id": str(job.id), "result": success.result} for job, success, _ in succeeded])
    with session() as s:
        finished = {j.id: j for j in s.scalars(select(Job).from_statement(statement), {"rows": rows, "worker": worker})}
        for job in finished.values():
            if job.cost_credits or job.webhook_url or job.parent_id:
                settle(s, job)
    for job, _, outcome in succeeded:
        outcome.status = finished[job.id].status if job.id in finished else "lease_lost"


def _execute(job: Job, ctx: JobContext) -> str | _Success:  # noqa: PLR0911 (one return per outcome reads best)
    job_type = get_job_type(job.type)
    try:
        if job_type is None:
            raise NonRetryable(f"no handler for job type {job.type!r} in this deployment")
        try:
            payload = job_type.payload_model.model_validate(job.payload)
        except ValidationError as exc:
            raise NonRetryable("the payload no longer fits its job type", details={"errors": exc.errors()}) from exc
        result = job_type.handler(ctx, payload)
    except AwaitSegments:
        return _wait_for_segments(job, ctx)
    except JobCancelled:
        return _finish(job, ctx, Action.ABORT, error="cancelled while running")
    except LeaseLost:
        logger.warning("lease lost; the job's outcome is someone else's now", job_id=str(job.id))
        return "lease_lost"
    except NonRetryable as exc:
        return _finish(job, ctx, Action.FAIL, error=str(exc), details={"retryable": False, **(exc.details or {})})
    except Exception as exc:
        details = {"exception": type(exc).__name__, "attempt": job.attempts}
        if job.attempts < job.max_attempts:
            return _retry_later(job, ctx, error=str(exc) or type(exc).__name__, details=details)
        return _finish(job, ctx, Action.FAIL, error=str(exc) or type(exc).__name__, details=details)
    return _Success(_as_json(result))


def _as_json(result: Any) -> dict[str, Any] | None:
    if result is None:
        return None
    if isinstance(result, BaseModel):
        result = result.model_dump(mode="json")
    value = json.loads(json.dumps(result, default=str))
    return value if isinstance(value, dict) else {"value": value}


def _ours(job: Job, ctx: JobContext) -> tuple[Any, ...]:
    return (Job.id == job.id, Job.locked_by == ctx.worker)


def _retry_later(job: Job, ctx: JobContext, *, error: str, details: dict[str, Any]) -> str:
    delay_ms = backoff_ms(job.attempts, job.retry_base_ms, job.retry_cap_ms)
    run_at = datetime.now(UTC) + timedelta(milliseconds=delay_ms)
    with session() as s:
        moved = apply(
            s,
            Action.RETRY_LATER,
            *_ours(job, ctx),
            run_at=run_at,
            locked_by=None,
            lease_expires_at=None,
            enqueued_at=func.now(),
            error=error[:4000],
            error_details={**details, "retry_in_ms": delay_ms},
        )
        if moved is None:
            return "lease_lost"
        wakeups.after_commit(s, [wakeups.Wakeup(job.id, delay_ms // 1000)])
    return JobStatus.RETRYING.value


def _wait_for_segments(job: Job, ctx: JobContext) -> str:
    """Park the parent until its last segment ends; the resume does not count as an attempt."""
    with session() as s:
        waiting = apply(
            s,
            Action.WAIT,
            *_ours(job, ctx),
            attempts=Job.attempts - 1,
            run_at=func.now(),
            locked_by=None,
            lease_expires_at=None,
            enqueued_at=None,
        )
        if waiting is None:
            return "lease_lost"
        # Children that all ended before we parked left the resume to us.
        if not s.scalar(
            select(func.count())
            .select_from(JobSegment)
            .where(JobSegment.job_id == job.id, JobSegment.status.not_in([str(x) for x in segments.FINISHED]))
        ):
            apply(s, Action.PROMOTE, Job.id == job.id, enqueued_at=func.now())
            wakeups.after_commit(s, [wakeups.Wakeup(job.id)])
    return JobStatus.PENDING.value


def _finish(
    job: Job,
    ctx: JobContext,
    action: Action,
    *,
    error: str | None = None,
    details: dict[str, Any] | None = None,
) -> str:
    values = {
        "locked_by": None,
        "lease_expires_at": None,
        "finished_at": func.now(),
        "error": (error or "")[:4000],
        "error_details": details,
    }
    with session() as s:
        finished = apply(s, action, *_ours(job, ctx), **values)
        if finished is None:
            return "lease_lost"
        settle(s, finished)
    return finished.status


def settle(s: Session, job: Job) -> None:
    """What a job's end sets off, in the same transaction: its credits and its webhook."""
    if job.cost_credits and job.user_id is not None:
        ref = held_credit_ref(s, job.id)
        if ref is not None and job.status in (JobStatus.COMPLETED, JobStatus.REVIEW):
            ledger.capture(ref, user_id=job.user_id, s=s)
        elif ref is not None and job.status in (JobStatus.FAILED, JobStatus.CANCELLED):
            ledger.release(ref, user_id=job.user_id, s=s)
    if job.parent_id is not None:
        segments.child_finished(s, job)
    if job.webhook_url:
        from shared.jobs.webhooks import enqueue_delivery

        enqueue_delivery(s, job, f"job.{job.status}")
