"""The worker function's logic: who we are (the registry), claim and run, then heartbeat with the batch's counts."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from aws_lambda_powertools import Logger

from shared.db.enums import JobStatus
from shared.jobs import workers
from shared.jobs.runner import BatchResult, run_batch
from shared.metrics import emf

logger = Logger(child=True)

_worker_name: str | None = None


def worker_name(function_name: str) -> str:
    """A name per execution environment, so leases and the registry tell environments apart."""
    global _worker_name  # noqa: PLW0603
    if _worker_name is None:
        _worker_name = f"{function_name}/{uuid.uuid4().hex[:12]}"
    return _worker_name


def process_wakeups(count: int, *, function_name: str, remaining_ms: Callable[[], int]) -> BatchResult:
    name = worker_name(function_name)
    worker_id = workers.current_worker(name)
    result = run_batch(count, worker=name, remaining_ms=remaining_ms, worker_id=worker_id)
    failed = sum(1 for o in result.outcomes if o.status in (JobStatus.FAILED, JobStatus.RETRYING))
    workers.heartbeat(worker_id, processed=len(result.outcomes), failed=failed, active=0)
    for outcome in result.outcomes:
        if outcome.status != "lease_lost":
            emf.job_outcome(outcome.type, outcome.status, outcome.duration_ms, outcome.queue_latency_ms)
        logger.info(
            "job finished",
            job_id=str(outcome.job_id),
            job_type=outcome.type,
            status=outcome.status,
            duration_ms=round(outcome.duration_ms, 1),
        )
    return result
