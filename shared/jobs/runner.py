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
from sqlalchemy import case, func, select
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
from shared.jobs.states import Action, apply, apply_all

logger = Logger(child=True)

LEASE_MARGIN_S = 30  # a lease outlives the invocation by this much, then the sweep may take the job back


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
    """Claim up to `limit` jobs and run them one after another (one Lambda invocation runs one thing at a time)."""
    lease_cap_s = max(1, remaining_ms() // 1000 + LEASE_MARGIN_S)
    with session() as s:
        jobs = claim(s, limit, worker, lease_cap_s, worker_id)
        jobs.sort(key=lambda j: (j.priority, j.run_at))
    result = BatchResult(claimed=len(jobs))
    for job in jobs:
        result.outcomes.append(run_one(job, worker=worker, remaining_ms=remaining_ms, lease_s=lease_cap_s))
    return result


def run_one(job: Job, *, worker: str, remaining_ms: Callable[[], int], lease_s: int) -> Outcome:
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
    return Outcome(job.id, job.type, status, (time.monotonic() - started) * 1000, latency)


def _execute(job: Job, ctx: JobContext) -> str:  # noqa: PLR0911 (one return per outcome reads best)
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
    return _finish(job, ctx, Action.SUCCEED, result=_as_json(result))


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
    result: dict[str, Any] | None = None,
    error: str | None = None,
    details: dict[str, Any] | None = None,
) -> str:
    values: dict[str, Any] = {
        "locked_by": None,
        "lease_expires_at": None,
        "finished_at": func.now(),
    }
    if action == Action.SUCCEED:
        values.update(
            result=result,
            error=None,
            error_details=None,
            progress=100,
            status=case((Job.failure_count > 0, JobStatus.REVIEW.value), else_=JobStatus.COMPLETED.value),
        )
    else:
        values.update(error=(error or "")[:4000], error_details=details)
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
