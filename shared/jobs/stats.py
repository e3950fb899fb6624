"""Queue figures for a dashboard (seed 001's): jobs per status per type, and how long the oldest queued job waits.

Read-only: one GROUP BY and one MIN over the jobs table, for one user (`GET /v1/jobs/stats`) or the whole
instance (`GET /v1/admin/jobs/stats`, system jobs included).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select

from shared.db import session
from shared.db.enums import JobStatus
from shared.db.models import Job


def zero_counts() -> dict[JobStatus, int]:
    return dict.fromkeys(JobStatus, 0)


@dataclass(frozen=True)
class TypeStats:
    type: str
    counts: dict[JobStatus, int] = field(default_factory=zero_counts)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class QueueStats:
    types: list[TypeStats]  # by type name
    totals: dict[JobStatus, int]
    oldest_queued_at: datetime | None  # when the longest-waiting queued job was queued
    oldest_queued_age_s: float | None  # its wait so far, by the database's clock
    as_of: datetime


def queue_stats(user_id: uuid.UUID | None, *, everyone: bool = False, since: datetime | None = None) -> QueueStats:
    """The caller's figures, or with `everyone=True` the instance's (every user's jobs and the system's).

    `since` counts only jobs created at or after it (the oldest queued job is looked for among all of them).
    """
    scope = [] if everyone else [Job.user_id == user_id]
    counted = select(Job.type, Job.status, func.count()).where(*scope).group_by(Job.type, Job.status)
    if since is not None:
        counted = counted.where(Job.created_at >= since)
    oldest = select(
        func.min(Job.enqueued_at),
        func.extract("epoch", func.now() - func.min(Job.enqueued_at)),
        func.now(),
    ).where(*scope, Job.status == JobStatus.QUEUED.value)
    with session() as s:
        rows = s.execute(counted).all()
        oldest_at, age_s, now = s.execute(oldest).one()
    by_type: dict[str, TypeStats] = {}
    totals = zero_counts()
    for type_name, status, n in rows:
        stats = by_type.setdefault(type_name, TypeStats(type_name))
        stats.counts[JobStatus(status)] = n
        totals[JobStatus(status)] += n
    return QueueStats(
        types=[by_type[name] for name in sorted(by_type)],
        totals=totals,
        oldest_queued_at=oldest_at,
        oldest_queued_age_s=None if age_s is None else max(0.0, round(float(age_s), 3)),
        as_of=now,
    )
