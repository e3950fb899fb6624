"""The worker function's logic: who we are (the registry), claim and run, then report the batch.

The registry heartbeat is one UPDATE written at most every `worker_heartbeat_every_s` per environment while the
worker is busy with quick jobs (the counts of the batches in between are added up in memory), and the metrics of a
batch are one EMF document: at ten jobs a batch, a heartbeat or a metrics flush per batch was a quarter of the
worker's time. Unreported counts are also written at the end of a batch that
- claimed fewer jobs than it had wake-ups: nothing more is runnable, so no next batch may come to carry them
  (Lambda freezes the environment when the invocation returns; a timer could not write them), or
- took at least `SLOW_BATCH_S`: one UPDATE after a second of work is under a thousandth of it.
A full batch of quick jobs under load meets neither, so the hot path keeps one heartbeat per 10 s.
Active jobs are not written here at all: the claim records the worker on each job, and the registry counts them
when read (shared/jobs/workers.py).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from aws_lambda_powertools import Logger

from shared.config import get_settings
from shared.db.enums import JobStatus
from shared.jobs import workers
from shared.jobs.runner import BatchResult, run_batch
from shared.metrics import emf

logger = Logger(child=True)

_worker_name: str | None = None

SLOW_BATCH_S = 1.0


@dataclass
class _Unreported:
    processed: int = 0
    failed: int = 0
    last_heartbeat: float = float("-inf")


_unreported = _Unreported()


def worker_name(function_name: str) -> str:
    """A name per execution environment, so leases and the registry tell environments apart."""
    global _worker_name  # noqa: PLW0603
    if _worker_name is None:
        _worker_name = f"{function_name}/{uuid.uuid4().hex[:12]}"
    return _worker_name


def process_wakeups(count: int, *, function_name: str, remaining_ms: Callable[[], int]) -> BatchResult:
    name = worker_name(function_name)
    worker_id = workers.current_worker(name)
    started = time.monotonic()
    result = run_batch(count, worker=name, remaining_ms=remaining_ms, worker_id=worker_id)
    _unreported.processed += len(result.outcomes)
    _unreported.failed += sum(1 for o in result.outcomes if o.status in (JobStatus.FAILED, JobStatus.RETRYING))
    now = time.monotonic()
    due = now - _unreported.last_heartbeat >= get_settings().worker_heartbeat_every_s
    drained = result.claimed < count
    unreported = _unreported.processed > 0 or _unreported.failed > 0
    if due or (unreported and (drained or now - started >= SLOW_BATCH_S)):
        if workers.heartbeat(worker_id, processed=_unreported.processed, failed=_unreported.failed, active=0):
            _unreported.processed = _unreported.failed = 0
        _unreported.last_heartbeat = now
    if result.outcomes:
        emf.job_batch([(o.type, o.status, o.duration_ms, o.queue_latency_ms) for o in result.outcomes])
    for outcome in result.outcomes:
        logger.debug(
            "job finished",
            job_id=str(outcome.job_id),
            job_type=outcome.type,
            status=outcome.status,
            duration_ms=round(outcome.duration_ms, 1),
        )
    return result


def forget_heartbeat() -> None:
    """Start counting afresh (a new environment, or a test)."""
    global _unreported  # noqa: PLW0603
    _unreported = _Unreported()
