"""Fan-out and fan-in: a job splits its work into segments run as child jobs in parallel (seed 004's
job_segments), and resumes exactly once when the last segment ends.

- Fan-out is idempotent: segments are keyed by (job, index) and only segments that have not succeeded get a
  child job, so a parent retried after a failure skips the work already done.
- Fan-in is exactly once: each child's end locks the parent row before it records its segment and counts what
  is left, so of two children ending at the same moment the second sees the first's result; the parent moves
  `pending` → `queued` by a conditional update that only one transaction can win.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from shared.db.enums import JobStatus, SegmentStatus
from shared.db.models import Job, JobSegment
from shared.jobs import lifecycle, wakeups
from shared.jobs.admission import Origin
from shared.jobs.lifecycle import ENDINGS, Consequence, Event, Happening
from shared.jobs.service import create_job
from shared.jobs.states import Action

FINISHED = (SegmentStatus.COMPLETED, SegmentStatus.FAILED, SegmentStatus.SKIPPED)
SEGMENT_FOR_JOB_STATUS = {
    JobStatus.COMPLETED: SegmentStatus.COMPLETED,
    JobStatus.REVIEW: SegmentStatus.COMPLETED,
    JobStatus.FAILED: SegmentStatus.FAILED,
    JobStatus.CANCELLED: SegmentStatus.SKIPPED,
}


@dataclass(frozen=True)
class SegmentSpec:
    index: int
    payload: dict[str, Any] = field(default_factory=dict)
    start_ms: int | None = None
    end_ms: int | None = None


def fan_out(s: Session, parent: Job, child_type: str, specs: list[SegmentSpec]) -> list[JobSegment] | None:
    """Create the segments and a child job for each one not yet succeeded; None while any is unfinished."""
    if specs:
        s.execute(
            insert(JobSegment)
            .values(
                [
                    {"job_id": parent.id, "segment_index": spec.index, "start_ms": spec.start_ms, "end_ms": spec.end_ms}
                    for spec in specs
                ]
            )
            .on_conflict_do_nothing()
        )
    segments = {seg.segment_index: seg for seg in s.scalars(select(JobSegment).where(JobSegment.job_id == parent.id))}
    todo = [spec for spec in specs if segments[spec.index].status not in FINISHED]
    if not todo:
        return sorted(segments.values(), key=lambda seg: seg.segment_index)
    # Failed segments are final for this run; retrying the parent resets them to pending (service.retry_job).
    for spec in todo:
        create_job(
            user_id=parent.user_id,
            type=child_type,
            payload={**spec.payload, "segment_index": spec.index},
            priority=parent.priority,
            parent_id=parent.id,
            project_id=parent.project_id,
            dedupe_key=f"segment:{parent.id}:{spec.index}",
            origin=Origin.SEGMENT,
            s=s,
        )
        s.execute(
            update(JobSegment)
            .where(JobSegment.job_id == parent.id, JobSegment.segment_index == spec.index)
            .values(status=SegmentStatus.RUNNING, attempts=JobSegment.attempts + 1, error=None)
        )
    return None


def child_finished(s: Session, child_id: uuid.UUID) -> bool:
    """Record a child's end on its segment; resume the parent if it was the last. True if this one resumed it."""
    child = s.execute(
        select(Job.parent_id, Job.status, Job.payload, Job.result, Job.error).where(Job.id == child_id)
    ).one_or_none()
    index = (child.payload or {}).get("segment_index") if child is not None else None
    if child is None or child.parent_id is None or index is None:
        return False
    parent = s.scalar(select(Job).where(Job.id == child.parent_id).with_for_update())
    if parent is None:
        return False
    s.execute(
        update(JobSegment)
        .where(JobSegment.job_id == parent.id, JobSegment.segment_index == index)
        .values(
            status=SEGMENT_FOR_JOB_STATUS.get(JobStatus(child.status), SegmentStatus.FAILED),
            result=child.result,
            error=child.error,
            finished_at=func.now(),
        )
    )
    if unfinished(s, parent.id):
        return False
    resumed = lifecycle.move_one(s, Action.PROMOTE, Job.id == parent.id, run_at=func.now(), enqueued_at=func.now())
    if resumed is None:
        return False
    wakeups.after_commit(s, [wakeups.Wakeup(parent.id)])
    return True


def unfinished(s: Session, job_id: uuid.UUID) -> int:
    """How many of the job's segments have not ended yet."""
    return (
        s.scalar(
            select(func.count())
            .select_from(JobSegment)
            .where(JobSegment.job_id == job_id, JobSegment.status.not_in([str(x) for x in FINISHED]))
        )
        or 0
    )


def cancel_children(s: Session, parent_id: uuid.UUID) -> None:
    """A cancelled parent cancels its children: waiting ones at once, running ones at their next heartbeat (their
    own children follow, through the same consequence)."""
    children = select(Job.id).where(Job.parent_id == parent_id).scalar_subquery()
    lifecycle.move(s, Action.CANCEL, Job.id.in_(children), finished_at=func.now())
    lifecycle.request_cancel(s, Job.parent_id == parent_id)


def reopen_segments(s: Session, job_id: uuid.UUID) -> None:
    """A parent retried by its user runs its failed and skipped segments again; completed ones are kept (seed
    004's resume)."""
    s.execute(
        update(JobSegment)
        .where(JobSegment.job_id == job_id, JobSegment.status.in_([SegmentStatus.FAILED, SegmentStatus.SKIPPED]))
        .values(status=SegmentStatus.PENDING, finished_at=None)
    )


_TO_CHILDREN = frozenset({Action.CANCEL, Action.ABORT, Event.CANCEL_REQUESTED, Action.REQUEUE})


def _acts_on(happening: Happening, job: Any) -> bool:
    # A child's end feeds its parent; a cancel or a retry may concern any job's segments (a child row does not
    # say whether the job has children, and these happenings are rare).
    return (happening in ENDINGS and job.parent_id is not None) or happening in _TO_CHILDREN


def _run(s: Session, happening: Happening, jobs: Sequence[Any]) -> None:
    if happening in ENDINGS:
        for job in jobs:
            if job.parent_id is not None:
                child_finished(s, job.id)
    if happening in (Action.CANCEL, Action.ABORT, Event.CANCEL_REQUESTED):
        for job in jobs:
            cancel_children(s, job.id)
    elif happening == Action.REQUEUE:
        for job in jobs:
            reopen_segments(s, job.id)


#: The lifecycle consequence for segments: a child's end feeds its parent; a parent's cancel reaches its
#: children; a parent's retry reopens its failed segments.
on_job_change = Consequence(acts_on=_acts_on, run=_run)
