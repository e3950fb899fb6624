"""The worker registry (seed 001 Worker): who runs jobs, how busy they are, and which ones went quiet.

A worker is an execution environment (a Lambda container, a laptop process). It registers once, on first use,
and heartbeats with what its batches did (throttled: see shared/jobs/worker.py). Lambda environments are frozen
and reaped without notice, so nothing announces a shutdown: the sweep infers it.

`active_jobs` as operators see it (`list_workers`) is counted when read, from the jobs the worker holds a live
lease on (`status = 'running'`, `worker_id`, `lease_expires_at > now()`): the claim already records the worker on
each job, so the worker writes nothing per job for it. A stale or stopped worker has 0 active jobs (its leases
are not trusted; the jobs sweep takes them back). The column holds what the last heartbeat reported.

Status lifecycle (`jobs.stale_workers`, each tick):
- no heartbeat for STALE_AFTER (15 min): active/draining → `stale` (maybe frozen, maybe gone), active_jobs 0;
- no heartbeat for STOPPED_AFTER (1 day): stale → `stopped`, stopped_at set (Lambda reaps idle environments
  well within a day, so it is gone);
- stopped for PRUNE_AFTER (30 days): the row is deleted in small batches (jobs keep their history; their
  worker_id becomes NULL), so a fleet of short-lived environments does not grow the table without bound.
A heartbeat from a stale or stopped worker (an environment thawed after a long idle) makes it `active` again.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from shared.db import session
from shared.db.enums import JobStatus, WorkerStatus
from shared.db.models import Job, Worker
from shared.errors import InvalidInput

STALE_AFTER = timedelta(minutes=15)
STOPPED_AFTER = timedelta(days=1)
PRUNE_AFTER = timedelta(days=30)
PRUNE_BATCH = 100
MAX_PAGE = 100
MAX_NAME_CHARS = 200
MAX_CACHED_NAMES = 1_000
LIVE = (WorkerStatus.ACTIVE.value, WorkerStatus.DRAINING.value)

# This execution environment's worker ids, by name: registered once, reused by every batch.
_current: dict[str, uuid.UUID] = {}
# Worker names by id: a worker's name never changes, so a name once read stays true (bounded, per process).
_names: dict[uuid.UUID, str] = {}


@dataclass(frozen=True)
class WorkerPage:
    items: list[Worker]
    next_offset: int | None
    active_jobs: dict[uuid.UUID, int]  # live leases per worker of the page (absent: 0)


def register(name: str, concurrency: int = 1) -> uuid.UUID:
    """Insert this process as a new, active worker; call once per execution environment (see current_worker)."""
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    with session() as s:
        worker = Worker(
            name=name[:MAX_NAME_CHARS],
            hostname=socket.gethostname()[:255],
            pid=os.getpid(),
            concurrency=concurrency,
            status=WorkerStatus.ACTIVE.value,
        )
        s.add(worker)
        s.flush()
        return worker.id


def current_worker(name: str, concurrency: int = 1) -> uuid.UUID:
    """This environment's worker id, registering it on the first call."""
    worker_id = _current.get(name)
    if worker_id is None:
        worker_id = _current[name] = register(name, concurrency)
    return worker_id


def forget_current_worker() -> None:
    """Drop the cached ids, so the next current_worker() registers anew."""
    _current.clear()


def heartbeat(worker_id: uuid.UUID, *, processed: int = 0, failed: int = 0, active: int = 0) -> bool:
    """Record one batch: add its processed/failed counts, set active jobs, mark alive. One UPDATE.

    Returns False when the row is gone (pruned after a very long freeze); the cached id is then forgotten, so
    the next current_worker() registers this environment again instead of heartbeating into nothing.
    """
    if min(processed, failed, active) < 0:
        raise ValueError("counts cannot be negative")
    with session() as s:
        found = s.execute(
            update(Worker)
            .where(Worker.id == worker_id)
            .values(
                processed_count=Worker.processed_count + processed,
                failed_count=Worker.failed_count + failed,
                active_jobs=active,
                last_heartbeat_at=func.now(),
                status=WorkerStatus.ACTIVE.value,
                stopped_at=None,
            )
        ).rowcount
    if not found:
        for name, cached in list(_current.items()):
            if cached == worker_id:
                del _current[name]
    return bool(found)


def list_workers(*, status: WorkerStatus | None = None, limit: int = 50, offset: int = 0) -> WorkerPage:
    """Newest heartbeat first (both filters use the status and last_heartbeat_at indexes)."""
    if not 1 <= limit <= MAX_PAGE or offset < 0:
        raise InvalidInput(f"limit is 1-{MAX_PAGE} and offset at least 0.")
    query = select(Worker)
    if status is not None:
        query = query.where(Worker.status == status.value)
    query = query.order_by(Worker.last_heartbeat_at.desc(), Worker.id.desc()).offset(offset).limit(limit + 1)
    with session() as s:
        rows = list(s.scalars(query))
        page = rows[:limit]
        active = _active_jobs(s, [w.id for w in page if w.status in LIVE])
    return WorkerPage(items=page, next_offset=offset + limit if len(rows) > limit else None, active_jobs=active)


def _active_jobs(s: Session, worker_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Jobs each worker holds a live lease on: one grouped count over the running jobs (ix_jobs_running_lease)."""
    if not worker_ids:
        return {}
    counted = s.execute(
        select(Job.worker_id, func.count())
        .where(Job.status == JobStatus.RUNNING.value, Job.lease_expires_at > func.now(), Job.worker_id.in_(worker_ids))
        .group_by(Job.worker_id)
    )
    return dict(counted.tuples().all())


def name_of(worker_id: uuid.UUID | None) -> str | None:
    """The worker's name (None when there is no such worker); read once per process and worker."""
    if worker_id is None:
        return None
    name = _names.get(worker_id)
    if name is None:
        with session() as s:
            name = s.scalar(select(Worker.name).where(Worker.id == worker_id))
        if name is not None:
            if len(_names) >= MAX_CACHED_NAMES:
                _names.clear()
            _names[worker_id] = name
    return name


def sweep_workers() -> int:
    """Mark quiet workers stale, long-quiet ones stopped, and prune long-stopped rows; returns rows changed.

    Conditional UPDATEs over the last_heartbeat_at index: a second, overlapping tick finds nothing left to change.
    """
    now = func.now()
    with session() as s:
        stale = s.execute(
            update(Worker)
            .where(
                Worker.status.in_([WorkerStatus.ACTIVE.value, WorkerStatus.DRAINING.value]),
                Worker.last_heartbeat_at < now - STALE_AFTER,
            )
            .values(status=WorkerStatus.STALE.value, active_jobs=0)
        ).rowcount
        stopped = s.execute(
            update(Worker)
            .where(Worker.status == WorkerStatus.STALE.value, Worker.last_heartbeat_at < now - STOPPED_AFTER)
            .values(status=WorkerStatus.STOPPED.value, stopped_at=now, active_jobs=0)
        ).rowcount
        doomed = (
            select(Worker.id)
            .where(Worker.status == WorkerStatus.STOPPED.value, Worker.last_heartbeat_at < now - PRUNE_AFTER)
            .limit(PRUNE_BATCH)
            .with_for_update(skip_locked=True)
        )
        pruned = s.execute(delete(Worker).where(Worker.id.in_(doomed))).rowcount
    return stale + stopped + pruned
