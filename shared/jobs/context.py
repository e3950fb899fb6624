"""What a running job's handler can do: heartbeat (and see a cancel), report progress and counts, log, and
know how long it has left before the Lambda timeout.

Each report is its own short transaction guarded by the lease (`locked_by`), so a worker that lost its job to
lease expiry cannot write over the job's new run: it gets LeaseLost instead.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shared.db import session
from shared.db.enums import JobStatus, LogLevel
from shared.db.models import Job, JobLog, JobSegment
from shared.jobs import lifecycle
from shared.jobs.errors import AwaitSegments, JobCancelled, LeaseLost
from shared.jobs.segments import SegmentSpec, fan_out


@dataclass
class Completion:
    """What `JobContext.completing()` yields: its transaction, and the result recorded with the job."""

    result: dict[str, Any] | None = None
    session: Session = field(init=False)


@dataclass
class JobContext:
    job_id: uuid.UUID
    user_id: uuid.UUID | None
    type: str
    attempt: int
    max_attempts: int
    worker: str
    lease_s: int
    remaining_ms: Callable[[], int] = field(default=lambda: 60_000)
    total: int = 0
    #: Set by `completing()`: the job's end was already recorded, atomically with the handler's side effect.
    completed_status: str | None = None

    @property
    def last_attempt(self) -> bool:
        return self.attempt >= self.max_attempts

    def time_left_ms(self) -> int:
        """Milliseconds before the invocation is killed; stop or checkpoint well before it reaches 0."""
        return self.remaining_ms()

    def _update(self, **values: Any) -> Job:
        """Write to our job while we hold it; tell the handler if it was cancelled or taken from us."""
        with session() as s:
            row = s.execute(
                update(Job)
                .where(Job.id == self.job_id, Job.status == JobStatus.RUNNING, Job.locked_by == self.worker)
                .values(**values)
                .returning(Job.cancel_requested_at)
            ).one_or_none()
        if row is None:
            raise LeaseLost(f"job {self.job_id} is no longer held by {self.worker}")
        if row.cancel_requested_at is not None:
            raise JobCancelled(f"job {self.job_id} was cancelled")
        return row

    def heartbeat(self) -> None:
        """Extend the lease; raises JobCancelled when the job was cancelled meanwhile."""
        self._update(lease_expires_at=datetime.now(UTC) + timedelta(seconds=self.lease_s))

    def progress(self, percent: float) -> None:
        value = Decimal(str(max(0.0, min(100.0, percent)))).quantize(Decimal("0.01"))
        self._update(progress=value, lease_expires_at=datetime.now(UTC) + timedelta(seconds=self.lease_s))

    def set_total(self, total: int) -> None:
        """Declare how many items the job will process (seed 000's `total`); counts and ratios refer to it."""
        self.total = total
        self._update(total=total)

    def count(self, *, success: int = 0, failure: int = 0, skip: int = 0) -> None:
        """Add to the per-item counts; progress follows them when a total was declared."""
        values: dict[str, Any] = {
            "success_count": Job.success_count + success,
            "failure_count": Job.failure_count + failure,
            "skip_count": Job.skip_count + skip,
            "lease_expires_at": datetime.now(UTC) + timedelta(seconds=self.lease_s),
        }
        if self.total:
            done = Job.success_count + success + Job.failure_count + failure + Job.skip_count + skip
            values["progress"] = done * 100.0 / self.total
        self._update(**values)

    def fan_out(self, child_type: str, segments: list[SegmentSpec]) -> list[JobSegment]:
        """Run `segments` as child jobs of type `child_type` in parallel; returns them once all have finished.

        Call it from the handler's start: the first time it creates the children and the handler stops here
        (the job waits as `pending` without using an attempt); when the last child ends the job runs again,
        this call returns every segment (status, result, error), and the handler combines them.
        """
        with session() as s:
            parent = s.scalar(
                select(Job).where(Job.id == self.job_id, Job.status == JobStatus.RUNNING, Job.locked_by == self.worker)
            )
            if parent is None:
                raise LeaseLost(f"job {self.job_id} is no longer held by {self.worker}")
            done = fan_out(s, parent, child_type, segments)
        if done is None:
            raise AwaitSegments(f"job {self.job_id} waits for {len(segments)} segment(s)")
        return done

    @contextmanager
    def completing(self, result: dict[str, Any] | None = None) -> Iterator[Completion]:
        """A transaction in which the handler makes its side effect and the job is recorded as done.

        Both commit or neither: a worker killed before the commit leaves no effect and the job runs again; after
        it, the job is done and never runs again. If the lease was lost meanwhile (another worker now holds the
        job), the effect is rolled back and LeaseLost raised: the other run makes it instead. Use it for effects
        in Conveyor's database; an effect elsewhere needs an idempotency key (the job id) on the other side.

            with ctx.completing() as done:
                done.session.execute(...)
                done.result = {"sent": 3}
            return done.result
        """
        completion = Completion(result=result)
        with session() as s:
            completion.session = s
            yield completion
            moved = lifecycle.succeed(s, worker=self.worker, results=[(self.job_id, completion.result)])
            if not moved:
                raise LeaseLost(f"job {self.job_id} is no longer held by {self.worker}")
        self.completed_status = moved[0].status

    def log(self, message: str, *, level: LogLevel | str = LogLevel.INFO, data: dict[str, Any] | None = None) -> None:
        """A line in the job's log, readable through the API. Never put secrets here."""
        with session() as s:
            s.add(JobLog(job_id=self.job_id, level=str(level), message=message[:10_000], data=data))
