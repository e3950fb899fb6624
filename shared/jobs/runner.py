"""Running jobs: lease a batch, run each job only while its lease holds, record the outcomes.

- **Claim**: one statement leases up to n runnable jobs (`FOR UPDATE SKIP LOCKED`, priority then run_at), so
  concurrent workers never take the same job and a duplicate delivery never runs a job twice: a job can only be
  claimed from `queued` or `retrying`. Each lease lasts the job's timeout (capped by the invocation's remaining
  time) plus `job_lease_margin_s`.
- **Leases that hold**: the jobs of a batch run one after another, so before starting one the worker knows how
  long ago the batch was claimed. While that is under half the margin, the claim's lease still covers the job's
  whole timeout and it starts at once; later, the lease is renewed first by a conditional UPDATE, and a job
  whose lease was lost (the sweep took it back, another worker holds it) is never started.
- **Outcomes**: successes are written by one statement for several jobs, at the latest `FLUSH_AFTER_S` after the
  first of them finished (a timer thread writes them while the next job runs), so a finished job never looks
  unfinished behind a slow one. Failures, retries and cancellations are written at once. Every write goes
  through the lifecycle, whose consequences (credits, webhooks, segments) run in the same transaction.
- **Errors users see are ours**: a job's `error` holds the message of a NonRetryable/RetryableError (written
  for users) or a generic one naming the exception's class; exception text and traceback go to the log only.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ValidationError
from sqlalchemy import func

from shared.config import get_settings
from shared.db.enums import JobStatus
from shared.db.models import Job
from shared.db.session import session, single_statement
from shared.jobs import lifecycle, segments, wakeups
from shared.jobs.context import JobContext
from shared.jobs.errors import AwaitSegments, JobCancelled, LeaseLost, NonRetryable, RetryableError
from shared.jobs.registry import get_job_type
from shared.jobs.states import Action

logger = Logger(child=True)

FLUSH_AFTER_S = 0.05  # a finished job's success is written within this long
MAX_ERROR_CHARS = 4000
LEASE_LOST = "lease_lost"


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


def lease_seconds(timeout_s: int, remaining_ms: int, margin_s: int) -> int:
    return min(timeout_s, max(1, remaining_ms // 1000)) + margin_s


def run_batch(limit: int, *, worker: str, remaining_ms: Callable[[], int], worker_id: Any = None) -> BatchResult:
    """Claim up to `limit` jobs and run them one after another (one Lambda invocation runs one thing at a time)."""
    margin_s = get_settings().job_lease_margin_s
    claimed_at = time.monotonic()  # before the statement: the leases began no earlier than this
    with single_statement() as s:  # one prepared statement, atomic alone: one round trip
        rows = lifecycle.claim(
            s,
            limit=limit,
            worker=worker,
            worker_id=worker_id,
            lease_cap_s=max(1, remaining_ms() // 1000),
            margin_s=margin_s,
        )
    rows.sort(key=lambda r: (r.priority, r.run_at_s))
    result = BatchResult(claimed=len(rows))
    recorder = _SuccessRecorder(worker)
    try:
        for row in rows:
            lease_s = lease_seconds(row.timeout_s, remaining_ms(), margin_s)
            if time.monotonic() - claimed_at > margin_s / 2 and not _renew(row, worker, lease_s):
                logger.warning("lease lost before the job started; not running it", job_id=str(row.id))
                result.outcomes.append(Outcome(row.id, row.type, LEASE_LOST, 0.0))
                continue
            outcome, success = run_one(row, worker=worker, remaining_ms=remaining_ms, lease_s=lease_s)
            result.outcomes.append(outcome)
            if success is not None:
                recorder.add(row, success, outcome)
    finally:
        recorder.close()
    return result


def _renew(row: Any, worker: str, lease_s: int) -> bool:
    with single_statement() as s:  # one conditional UPDATE, atomic alone
        return lifecycle.renew_lease(s, job_id=row.id, worker=worker, lease_s=lease_s) is not None


@dataclass
class _Success:
    result: dict[str, Any] | None


class _SuccessRecorder:
    """Writes successes in groups: when the batch ends, or FLUSH_AFTER_S after the oldest unwritten one (then
    the process's flusher thread writes them while the next job runs)."""

    def __init__(self, worker: str) -> None:
        self._worker = worker
        self._pending: list[tuple[Any, _Success, Outcome]] = []  # (claimed row, success, outcome)
        self._lock = threading.Lock()  # guards _pending
        self._writing = threading.Lock()  # one write at a time, in finishing order

    def add(self, row: Any, success: _Success, outcome: Outcome) -> None:
        with self._lock:
            self._pending.append((row, success, outcome))
            first = len(self._pending) == 1
        if first:
            _flusher().arm(self, time.monotonic() + FLUSH_AFTER_S)

    def flush(self) -> None:
        with self._writing:
            with self._lock:
                batch, self._pending = self._pending, []
            if not batch:
                return
            # Rows no consequence acts on are one self-committing statement (one round trip); others need a
            # transaction for their consequences.
            unit = single_statement if lifecycle.quiet(Action.SUCCEED, [row for row, _, _ in batch]) else session
            try:
                with unit() as s:
                    moved = lifecycle.succeed(
                        s, worker=self._worker, results=[(row.id, success.result) for row, success, _ in batch]
                    )
            except Exception:
                # The jobs stay `running` under our lease; when it expires the sweep runs them again.
                logger.exception("could not record successes; their leases will expire", count=len(batch))
                for _, _, outcome in batch:
                    outcome.status = "unrecorded"
                return
            statuses = {row.id: row.status for row in moved}
            for row, _, outcome in batch:
                outcome.status = statuses.get(row.id, LEASE_LOST)

    def close(self) -> None:
        _flusher().disarm(self)
        self.flush()


class _Flusher:
    """One daemon thread per process that flushes a recorder whose oldest success waited FLUSH_AFTER_S.

    Arming and disarming take a lock and a notify (microseconds); starting a timer thread per batch cost more.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._target: _SuccessRecorder | None = None
        self._due = 0.0
        threading.Thread(target=self._run, name="conveyor-success-flusher", daemon=True).start()

    def arm(self, recorder: _SuccessRecorder, due: float) -> None:
        with self._cond:
            if self._target is None:
                self._target, self._due = recorder, due
                self._cond.notify()

    def disarm(self, recorder: _SuccessRecorder) -> None:
        with self._cond:
            if self._target is recorder:
                self._target = None

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._target is None or time.monotonic() < self._due:
                    self._cond.wait(None if self._target is None else max(0.0, self._due - time.monotonic()))
                recorder, self._target = self._target, None
            recorder.flush()


_the_flusher: _Flusher | None = None
_flusher_lock = threading.Lock()


def _flusher() -> _Flusher:
    global _the_flusher  # noqa: PLW0603 - one per process, started on first use
    if _the_flusher is None:
        with _flusher_lock:
            if _the_flusher is None:
                _the_flusher = _Flusher()
    return _the_flusher


def run_one(row: Any, *, worker: str, remaining_ms: Callable[[], int], lease_s: int) -> tuple[Outcome, _Success | None]:
    started = time.monotonic()
    latency = (time.time() - row.run_at_s) * 1000 if row.attempts == 1 else None
    ctx = JobContext(
        job_id=row.id,
        user_id=row.user_id,
        type=row.type,
        attempt=row.attempts,
        max_attempts=row.max_attempts,
        worker=worker,
        lease_s=lease_s,
        remaining_ms=remaining_ms,
        total=row.total,
    )
    status = _execute(row, ctx)
    if isinstance(status, _Success) and ctx.completed_status is not None:
        status = ctx.completed_status  # recorded by ctx.completing(), with the handler's side effect
    outcome = Outcome(row.id, row.type, "pending" if isinstance(status, _Success) else status, 0.0, latency)
    outcome.duration_ms = (time.monotonic() - started) * 1000
    return outcome, status if isinstance(status, _Success) else None


def _execute(row: Any, ctx: JobContext) -> str | _Success:  # noqa: PLR0911 (one return per outcome reads best)
    job_type = get_job_type(row.type)
    try:
        if job_type is None:
            raise NonRetryable(f"No handler for job type {row.type!r} in this deployment.")
        try:
            payload = job_type.payload_model.model_validate(row.payload)
        except ValidationError as exc:
            details = {"errors": [{"field": ".".join(map(str, e["loc"])), "type": e["type"]} for e in exc.errors()]}
            raise NonRetryable("The payload no longer fits its job type.", details=details) from exc
        result = job_type.handler(ctx, payload)
    except AwaitSegments:
        return _wait_for_segments(row, ctx)
    except JobCancelled:
        return _finish(row, ctx, Action.ABORT, error="Cancelled while running.")
    except LeaseLost:
        logger.warning("lease lost; the job's outcome is someone else's now", job_id=str(row.id))
        return LEASE_LOST
    except NonRetryable as exc:
        details = {"error_class": type(exc).__name__, "retryable": False, **(exc.details or {})}
        return _finish(row, ctx, Action.FAIL, error=str(exc), details=details)
    except RetryableError as exc:
        return _retry_or_fail(row, ctx, str(exc), {"error_class": type(exc).__name__, **(exc.details or {})})
    except Exception as exc:
        # Exception text may hold SQL, parameters or host names: the log gets it, the user a safe message.
        logger.exception("job handler raised", job_id=str(row.id), job_type=row.type, attempt=row.attempts)
        message = f"The job failed with an unexpected error ({type(exc).__name__})."
        return _retry_or_fail(row, ctx, message, {"error_class": type(exc).__name__})
    return _Success(_as_json(result))


def _retry_or_fail(row: Any, ctx: JobContext, error: str, details: dict[str, Any]) -> str:
    details = {"retryable": True, "attempt": row.attempts, **details}
    if row.attempts < row.max_attempts:
        return _retry_later(row, ctx, error=error, details=details)
    return _finish(row, ctx, Action.FAIL, error=error, details=details)


def _as_json(result: Any) -> dict[str, Any] | None:
    if result is None:
        return None
    if isinstance(result, BaseModel):
        result = result.model_dump(mode="json")
    value = json.loads(json.dumps(result, default=str))
    return value if isinstance(value, dict) else {"value": value}


def _ours(row: Any, ctx: JobContext) -> tuple[Any, ...]:
    return (Job.id == row.id, Job.locked_by == ctx.worker)


def _retry_later(row: Any, ctx: JobContext, *, error: str, details: dict[str, Any]) -> str:
    """Back to `retrying`, due after the backoff by the database's clock; the wake-up is delayed rounded up, so
    it never arrives before the job is due."""
    delay_ms = backoff_ms(row.attempts, row.retry_base_ms, row.retry_cap_ms)
    with session() as s:
        moved = lifecycle.move_rows(
            s,
            Action.RETRY_LATER,
            *_ours(row, ctx),
            run_at=func.now() + func.make_interval(0, 0, 0, 0, 0, 0, delay_ms / 1000.0),
            locked_by=None,
            lease_expires_at=None,
            enqueued_at=func.now(),
            error=error[:MAX_ERROR_CHARS],
            error_details={**details, "retry_in_ms": delay_ms},
        )
        if not moved:
            return LEASE_LOST
        wakeups.after_commit(s, [wakeups.Wakeup(row.id, -(-delay_ms // 1000))])
    return JobStatus.RETRYING.value


def _wait_for_segments(row: Any, ctx: JobContext) -> str:
    """Park the parent until its last segment ends; the resume does not count as an attempt."""
    with session() as s:
        waiting = lifecycle.move_rows(
            s,
            Action.WAIT,
            *_ours(row, ctx),
            attempts=Job.attempts - 1,
            run_at=func.now(),
            locked_by=None,
            lease_expires_at=None,
            enqueued_at=None,
        )
        if not waiting:
            return LEASE_LOST
        # Children that all ended before we parked left the resume to us.
        if not segments.unfinished(s, row.id):
            lifecycle.move_rows(s, Action.PROMOTE, Job.id == row.id, enqueued_at=func.now())
            wakeups.after_commit(s, [wakeups.Wakeup(row.id)])
    return JobStatus.PENDING.value


def _finish(
    row: Any,
    ctx: JobContext,
    action: Action,
    *,
    error: str | None = None,
    details: dict[str, Any] | None = None,
) -> str:
    with session() as s:
        finished = lifecycle.move_rows(
            s,
            action,
            *_ours(row, ctx),
            locked_by=None,
            lease_expires_at=None,
            finished_at=func.now(),
            error=(error or "")[:MAX_ERROR_CHARS],
            error_details=details,
        )
    return finished[0].status if finished else LEASE_LOST
