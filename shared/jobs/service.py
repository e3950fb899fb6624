"""Creating and managing jobs: the only code that writes the jobs table outside the worker.

Every state change is a conditional UPDATE whose WHERE names the states it may leave (see shared/jobs/states.py),
so an illegal transition changes no row instead of relying on callers to check first.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from pydantic import ValidationError
from sqlalchemy import and_, bindparam, func, select, text, tuple_, update
from sqlalchemy.orm import Session

from shared.billing import ledger
from shared.db.enums import ACTIVE_JOB_STATUSES, JobPriority, JobStatus, ReservationStatus, SegmentStatus
from shared.db.models import CreditReservation, Job, JobLog, JobSegment
from shared.db.pagination import decode_cursor, encode_cursor
from shared.db.session import session, unit_of_work
from shared.errors import Conflict, InvalidInput, NotFound
from shared.jobs import wakeups
from shared.jobs.registry import get_job_type, load_job_types
from shared.jobs.states import Action, apply
from shared.projects.service import owned_project

# Runs further out than SQS can delay a message wait as `pending`; the scheduler queues them when due.
QUEUE_AHEAD = timedelta(seconds=wakeups.MAX_DELAY_S - 60)
MAX_PAST = timedelta(days=1)


@dataclass(frozen=True)
class Created:
    job: Job
    created: bool  # False: an earlier job was returned (same Idempotency-Key, or an active job with the dedupe key)


def credit_ref(job_id: uuid.UUID, run: int = 1) -> str:
    """The ledger reference of a job's credits; a job retried by its user reserves again under run 2, 3, ..."""
    return f"job:{job_id}" if run == 1 else f"job:{job_id}:run{run}"


def held_credit_ref(s: Session, job_id: uuid.UUID) -> str | None:
    return s.scalar(
        select(CreditReservation.reference).where(
            CreditReservation.job_id == job_id, CreditReservation.status == ReservationStatus.HELD
        )
    )


def request_fingerprint(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def create_job(
    *,
    user_id: uuid.UUID | None,
    type: str,
    payload: dict[str, Any],
    priority: JobPriority = JobPriority.NORMAL,
    run_at: datetime | None = None,
    max_attempts: int | None = None,
    timeout_s: int | None = None,
    name: str | None = None,
    idempotency_key: str | None = None,
    request_hash: str | None = None,
    dedupe_key: str | None = None,
    webhook_url: str | None = None,
    project_id: uuid.UUID | None = None,
    input_media_id: uuid.UUID | None = None,
    parent_id: uuid.UUID | None = None,
    schedule_id: uuid.UUID | None = None,
    from_api: bool = False,
    s: Session | None = None,
) -> Created:
    """Validate, store and (after commit) wake a worker for a new job, reserving its credits in the same transaction.

    Pass `s` to create the job inside a larger unit of work; the wake-up is then sent when that one commits.
    """
    job_type = get_job_type(type)
    if job_type is None or (from_api and job_type.internal):
        # Internal types (webhook deliveries, derived media) are created by Conveyor itself, never by clients.
        known = sorted(name for name, t in load_job_types().items() if not (from_api and t.internal))
        raise InvalidInput("Unknown job type.", code="unknown_job_type", details={"type": type, "known": known})
    try:
        parsed = job_type.payload_model.model_validate(payload)
    except ValidationError as exc:
        details = [
            {"field": ".".join(map(str, e["loc"])), "type": e["type"], "message": e["msg"]} for e in exc.errors()
        ]
        raise InvalidInput("The payload does not fit this job type.", code="invalid_payload", details=details) from exc
    now = datetime.now(UTC)
    run_at = run_at or now
    if run_at.tzinfo is None:
        raise InvalidInput("run_at needs a time zone.", details={"run_at": run_at.isoformat()})
    if run_at < now - MAX_PAST:
        raise InvalidInput(
            "run_at is more than a day in the past.", code="run_at_in_past", details={"run_at": run_at.isoformat()}
        )
    if webhook_url is not None:
        from shared.jobs.webhooks import check_webhook_url

        check_webhook_url(webhook_url)

    deferred = run_at > now + QUEUE_AHEAD
    job_id = uuid.uuid4()
    cost = job_type.cost(parsed) if user_id is not None else 0
    values = {
        "id": job_id,
        "user_id": user_id,
        "project_id": project_id,
        "parent_id": parent_id,
        "schedule_id": schedule_id,
        "type": type,
        "name": name,
        "payload": parsed.model_dump(mode="json"),
        "status": JobStatus.PENDING if deferred else JobStatus.QUEUED,
        "priority": int(priority),
        "max_attempts": max_attempts or job_type.max_attempts,
        "retry_base_ms": job_type.retry_base_ms,
        "retry_cap_ms": job_type.retry_cap_ms,
        "run_at": run_at,
        "timeout_s": timeout_s or job_type.timeout_s,
        "enqueued_at": None if deferred else now,
        "webhook_url": webhook_url,
        "cost_credits": cost,
        "input_media_id": input_media_id,
        "idempotency_key": idempotency_key,
        "request_hash": request_hash,
        "dedupe_key": dedupe_key,
    }
    with unit_of_work(s) as tx:
        if project_id is not None and user_id is not None:
            owned_project(tx, user_id, project_id)
        job = tx.scalars(_insert_statement(tuple(values)), values).one_or_none()
        if job is None:
            return Created(_existing(tx, user_id, idempotency_key, request_hash, dedupe_key), created=False)
        if cost:
            ledger.reserve(user_id, cost, credit_ref(job_id), reason=f"job {type}", job_id=job_id, s=tx)  # type: ignore[arg-type]
        if not deferred:
            delay = max(0, int((run_at - now).total_seconds()))
            wakeups.after_commit(tx, [wakeups.Wakeup(job_id, delay)])
        return Created(job, created=True)


@lru_cache(maxsize=16)
def _insert_statement(keys: tuple[str, ...]) -> Any:
    """INSERT … ON CONFLICT DO NOTHING RETURNING the job, as a statement SQLAlchemy can cache.

    The postgresql dialect's `insert()` is never cached (its `inherit_cache` is False), so building it per job
    recompiled it every time: two thirds of a job creation's CPU. A text statement with typed bind parameters,
    mapped back onto the model, compiles once.
    """
    table = Job.__table__
    columns, params = ", ".join(keys), ", ".join(":" + k for k in keys)
    # The names are the model's own column names (the keys of `values` in create_job), never input.
    sql = f"INSERT INTO {table.name} ({columns}) VALUES ({params}) ON CONFLICT DO NOTHING RETURNING *"  # noqa: S608
    statement = text(sql).bindparams(*(bindparam(k, type_=table.c[k].type) for k in keys))
    return select(Job).from_statement(statement.columns(*table.columns))


def _existing(
    s: Session, user_id: uuid.UUID | None, idempotency_key: str | None, request_hash: str | None, dedupe_key: str | None
) -> Job:
    """The job that made our insert a no-op (Postgres waited for its transaction, so it is visible now)."""
    if idempotency_key is not None:
        job = s.scalar(select(Job).where(Job.user_id == user_id, Job.idempotency_key == idempotency_key))
        if job is not None:
            if request_hash is not None and job.request_hash != request_hash:
                raise Conflict(
                    "This Idempotency-Key was used with a different request.",
                    code="idempotency_key_reused",
                    details={"idempotency_key": idempotency_key},
                )
            return job
    if dedupe_key is not None:
        job = s.scalar(
            select(Job).where(
                and_(
                    Job.user_id.is_not_distinct_from(user_id),
                    Job.dedupe_key == dedupe_key,
                    Job.status.in_([str(x) for x in ACTIVE_JOB_STATUSES]),
                )
            )
        )
        if job is not None:
            return job
    raise Conflict("The job conflicts with another one; try again.")


def get_job(user_id: uuid.UUID, job_id: uuid.UUID, *, s: Session | None = None) -> Job:
    """The caller's job; another user's id is NotFound, exactly like an id that does not exist."""
    with unit_of_work(s) as tx:
        job = tx.scalar(select(Job).where(Job.id == job_id, Job.user_id == user_id))
        if job is None:
            raise NotFound("No such job.")
        return job


@dataclass(frozen=True)
class JobFilter:
    status: JobStatus | None = None
    type: str | None = None
    project_id: uuid.UUID | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None


def list_jobs(user_id: uuid.UUID, flt: JobFilter, *, limit: int, cursor: str | None) -> tuple[list[Job], str | None]:
    """Newest first, keyset-paginated on (created_at, id) so pages stay stable while jobs are added."""
    query = select(Job).where(Job.user_id == user_id)
    if flt.status:
        query = query.where(Job.status == flt.status)
    if flt.type:
        query = query.where(Job.type == flt.type)
    if flt.project_id:
        query = query.where(Job.project_id == flt.project_id)
    if flt.created_after:
        query = query.where(Job.created_at >= flt.created_after)
    if flt.created_before:
        query = query.where(Job.created_at < flt.created_before)
    if cursor:
        created_at, last_id = decode_cursor(cursor)
        query = query.where(tuple_(Job.created_at, Job.id) < tuple_(created_at, last_id))
    with session() as tx:
        rows = list(tx.scalars(query.order_by(Job.created_at.desc(), Job.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, encode_cursor(rows[-1].created_at, rows[-1].id) if more else None


def cancel_job(user_id: uuid.UUID, job_id: uuid.UUID) -> Job:
    """Cancel a job that has not started (at once) or ask a running one to stop (seen at its next heartbeat)."""
    with session() as tx:
        job = apply(tx, Action.CANCEL, Job.id == job_id, Job.user_id == user_id, finished_at=func.now())
        if job is not None:
            from shared.jobs.runner import settle
            from shared.jobs.segments import cancel_children

            settle(tx, job)
            cancel_children(tx, job_id)
            return job
        running = tx.execute(
            update(Job)
            .where(Job.id == job_id, Job.user_id == user_id, Job.status == JobStatus.RUNNING)
            .values(cancel_requested_at=func.coalesce(Job.cancel_requested_at, func.now()))
            .returning(Job)
            .execution_options(synchronize_session=False)
        ).scalar_one_or_none()
        if running is not None:
            from shared.jobs.segments import cancel_children

            cancel_children(tx, job_id)
            return running
        current = get_job(user_id, job_id, s=tx)
        raise Conflict(
            "Only pending, queued, retrying or running jobs can be cancelled.",
            code="job_not_cancellable",
            details={"status": current.status},
        )


def retry_job(user_id: uuid.UUID, job_id: uuid.UUID) -> Job:
    """Run a failed or cancelled job again from scratch: attempts reset to 0 and credits reserved anew."""
    with session() as tx:
        job = apply(
            tx,
            Action.REQUEUE,
            Job.id == job_id,
            Job.user_id == user_id,
            attempts=0,
            run_at=func.now(),
            enqueued_at=func.now(),
            started_at=None,
            finished_at=None,
            cancel_requested_at=None,
            error=None,
            error_details=None,
            result=None,
            progress=0,
            success_count=0,
            failure_count=0,
            skip_count=0,
        )
        if job is None:
            current = get_job(user_id, job_id, s=tx)
            raise Conflict(
                "Only failed or cancelled jobs can be retried.",
                code="job_not_retryable",
                details={"status": current.status},
            )
        if job.cost_credits:
            runs = tx.scalar(
                select(func.count()).select_from(CreditReservation).where(CreditReservation.job_id == job_id)
            )
            ledger.reserve(
                user_id,
                job.cost_credits,
                credit_ref(job_id, runs + 1),
                reason=f"job {job.type} retried",
                job_id=job_id,
                s=tx,
            )
        # Segments that failed or were skipped run again; those that succeeded are kept (seed 004's resume).
        tx.execute(
            update(JobSegment)
            .where(JobSegment.job_id == job_id, JobSegment.status.in_([SegmentStatus.FAILED, SegmentStatus.SKIPPED]))
            .values(status=SegmentStatus.PENDING, finished_at=None)
        )
        wakeups.after_commit(tx, [wakeups.Wakeup(job_id)])
        return job


def commit_job(user_id: uuid.UUID, job_id: uuid.UUID) -> Job:
    """Accept a job in review (or a failed one) as done, as seed 000's REVIEW/FAILURE → DONE commit."""
    with session() as tx:
        job = apply(tx, Action.COMMIT, Job.id == job_id, Job.user_id == user_id, committed_at=func.now())
        if job is None:
            current = get_job(user_id, job_id, s=tx)
            raise Conflict(
                "Only jobs in review or failed can be committed.",
                code="job_not_committable",
                details={"status": current.status},
            )
        if job.webhook_url:
            from shared.jobs.webhooks import enqueue_delivery

            enqueue_delivery(tx, job, f"job.{job.status}")
        return job


def job_logs(user_id: uuid.UUID, job_id: uuid.UUID, *, limit: int, after: datetime | None) -> list[JobLog]:
    with session() as tx:
        get_job(user_id, job_id, s=tx)
        query = select(JobLog).where(JobLog.job_id == job_id)
        if after is not None:
            query = query.where(JobLog.created_at > after)
        return list(tx.scalars(query.order_by(JobLog.created_at, JobLog.id).limit(limit)))


def job_segments(user_id: uuid.UUID, job_id: uuid.UUID) -> list[JobSegment]:
    with session() as tx:
        get_job(user_id, job_id, s=tx)
        return list(
            tx.scalars(select(JobSegment).where(JobSegment.job_id == job_id).order_by(JobSegment.segment_index))
        )
