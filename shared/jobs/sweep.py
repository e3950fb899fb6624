"""Scheduler steps that keep the job engine whole: no job is lost, whatever step a function died at.

- Leases that expired (a worker crashed or its Lambda timed out) go back to `retrying`, or `failed` when out of
  attempts.
- Deferred jobs whose run_at is within SQS's delay reach become `queued` with a delayed wake-up.
- Wake-ups are topped up: when more jobs are due than the queue holds messages (a send was lost between commit
  and SQS, or a message ran out of receives), the difference is sent. Wake-ups carry no state, so a spare one
  costs an invocation that claims nothing, while a missing one would strand a job.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aws_lambda_powertools import Logger
from sqlalchemy import func, select

from shared import aws
from shared.config import get_settings
from shared.db.enums import RUNNABLE_JOB_STATUSES, JobStatus
from shared.db.models import Job
from shared.db.session import session
from shared.jobs import lifecycle, wakeups
from shared.jobs.service import QUEUE_AHEAD
from shared.jobs.states import Action

logger = Logger(child=True)

BATCH = 500
MAX_TOP_UP = 1000


def recover_expired_leases() -> int:
    with session() as s:
        expired = (
            select(Job.id)
            .where(Job.status == JobStatus.RUNNING, Job.lease_expires_at < func.now())
            .order_by(Job.lease_expires_at)
            .limit(BATCH)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        common = {"locked_by": None, "lease_expires_at": None}
        retried = lifecycle.move_rows(
            s,
            Action.RETRY_LATER,
            Job.id.in_(expired),
            Job.attempts < Job.max_attempts,
            enqueued_at=func.now(),  # run_at is kept: the job keeps its place in the queue, not behind the backlog
            error="The worker stopped answering (lease expired); the job will run again.",
            error_details={"error_class": "LeaseExpired", "retryable": True},
            **common,
        )
        failed = lifecycle.move_rows(
            s,
            Action.FAIL,
            Job.id.in_(expired),
            Job.attempts >= Job.max_attempts,
            finished_at=func.now(),
            error="The worker stopped answering (lease expired) on the last attempt.",
            error_details={"error_class": "LeaseExpired", "retryable": False},
            **common,
        )
        wakeups.after_commit(s, [wakeups.Wakeup(job.id) for job in retried])
    if retried or failed:
        logger.warning("expired leases recovered", retried=len(retried), failed=len(failed))
    return len(retried) + len(failed)


def queue_deferred_jobs() -> int:
    now = datetime.now(UTC)
    with session() as s:
        due = (
            select(Job.id)
            .where(Job.status == JobStatus.PENDING, Job.run_at <= now + QUEUE_AHEAD)
            .order_by(Job.run_at)
            .limit(BATCH)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        queued = lifecycle.move(s, Action.PROMOTE, Job.id.in_(due), enqueued_at=func.now())
        wakeups.after_commit(s, [wakeups.Wakeup(job.id, wakeups.delay_until(job.run_at, now)) for job in queued])
    return len(queued)


def queued_messages() -> int | None:
    """Messages the jobs queue holds, visible or in flight (None when it cannot be read)."""
    queue_url = get_settings().jobs_queue_url
    if not queue_url:
        return None
    attributes = aws.client("sqs").get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def top_up_wakeups() -> int:
    with session() as s:
        due = s.scalar(
            select(func.count())
            .select_from(Job)
            .where(Job.status.in_([str(x) for x in RUNNABLE_JOB_STATUSES]), Job.run_at <= func.now())
        )
    if not due:
        return 0
    held = queued_messages()
    missing = min(MAX_TOP_UP, due - (held or 0)) if held is not None else 0
    if missing <= 0:
        return 0
    logger.warning("topping up lost wake-ups", due=due, queued=held, sending=missing)
    wakeups.send_now([wakeups.Wakeup(None)] * missing)
    return missing
