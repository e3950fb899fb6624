"""Creating and managing jobs: what users (and Conveyor's own domains) ask of the engine.

Every new job passes shared/jobs/admission.py; every state change goes through shared/jobs/lifecycle.py (a
conditional UPDATE plus its subscribed consequences), so an illegal transition changes no row.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache, cached_property, lru_cache
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Float, bindparam, column, func, select, text, tuple_
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, configure_mappers
from sqlalchemy.orm.base import manager_of_class

from shared.db.enums import ACTIVE_JOB_STATUSES, JobPriority, JobStatus
from shared.db.models import Job, JobLog, JobSegment
from shared.db.pagination import decode_cursor, encode_cursor
from shared.db.session import session, single_statement, unit_of_work
from shared.errors import Conflict, InvalidInput, NotFound
from shared.jobs import lifecycle, wakeups
from shared.jobs.admission import Admitted, JobRequest, Origin, admit
from shared.jobs.registry import JobType
from shared.jobs.states import Action

# Runs further out than SQS can delay a message wait as `pending`; the scheduler queues them when due.
QUEUE_AHEAD = timedelta(seconds=wakeups.MAX_DELAY_S - 60)
MAX_BATCH = 1_000


@dataclass(frozen=True)
class Created:
    job: Job
    created: bool  # False: an earlier job was returned (same Idempotency-Key, or an active job with the dedupe key)


def request_fingerprint(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def create_job(
    *,
    user_id: uuid.UUID | None,
    type: str | JobType,
    payload: dict[str, Any] | None = None,
    priority: JobPriority = JobPriority.NORMAL,
    run_at: datetime | None = None,
    max_attempts: int | None = None,
    retry_delay_ms: int | None = None,
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
    origin: Origin = Origin.API,
    s: Session | None = None,
) -> Created:
    """Admit, store and (after commit) wake a worker for one job; its creation consequences (credits) run in the
    same transaction. A type named by string from an untrusted origin (the default) may not be internal.

    Pass `s` to create the job inside a larger unit of work; the wake-up is then sent when that one commits.
    """
    request = JobRequest(
        type=type,
        payload=payload,
        priority=priority,
        run_at=run_at,
        max_attempts=max_attempts,
        retry_delay_ms=retry_delay_ms,
        timeout_s=timeout_s,
        name=name,
        idempotency_key=idempotency_key,
        dedupe_key=dedupe_key,
        webhook_url=webhook_url,
        project_id=project_id,
        input_media_id=input_media_id,
        parent_id=parent_id,
        schedule_id=schedule_id,
    )
    return create(user_id, request, request_hash=request_hash, origin=origin, s=s)


def create(
    user_id: uuid.UUID | None,
    request: JobRequest,
    *,
    request_hash: str | None = None,
    origin: Origin = Origin.API,
    s: Session | None = None,
) -> Created:
    """`create_job` for a request already gathered (the API's body, a schedule's slot).

    One prepared INSERT returning only what the database fills in; the Job is built from the values sent (loading
    the row back cost a third of a creation; `test_a_job_created_alone_is_the_row_the_database_holds` checks the
    two agree, column by column). With no outer unit of work, no id to check and no consequence acting on the new
    job (no credits), the INSERT commits by itself: one round trip, the whole hot path of a free job.
    """
    if s is None and request.project_id is None and request.input_media_id is None and request.parent_id is None:
        (admitted,) = admit(None, user_id, [request], origin=origin)  # nothing to look up in the database
        values = _row_values(user_id, admitted, request_hash, datetime.now(UTC))
        unit = single_statement if lifecycle.quiet(lifecycle.Event.CREATED, [SimpleNamespace(**values)]) else session
        with unit() as tx:
            return _insert(tx, user_id, values, request, request_hash)
    with unit_of_work(s) as tx:
        (admitted,) = admit(tx, user_id, [request], origin=origin)
        return _insert(
            tx, user_id, _row_values(user_id, admitted, request_hash, datetime.now(UTC)), request, request_hash
        )


def _insert(
    tx: Session, user_id: uuid.UUID | None, values: dict[str, Any], request: JobRequest, request_hash: str | None
) -> Created:
    row = tx.execute(_insert_statement(tuple(values)), values).one_or_none()
    if row is None:  # an earlier job holds the idempotency key, or an active one the dedupe key
        return Created(_existing(tx, user_id, request.idempotency_key, request_hash, request.dedupe_key), False)
    job = _built(values, row)
    lifecycle.created(tx, [job])
    _wake(tx, [(job.id, job.status, job.run_at)])
    return Created(job, created=True)


def _built(values: dict[str, Any], stamps: Any) -> Job:
    """The Job as stored: the values we sent, the table's defaults, and the timestamps the database returned.

    A transient instance filled without attribute events (`ClassManager.new_instance`, SQLAlchemy's way to make
    an instance without calling `__init__`): the declarative constructor cost ~90 % of a batch's Python time.
    """
    job = _job_manager().new_instance()
    job.__dict__.update(
        values,
        created_at=datetime.fromtimestamp(stamps.created_s, UTC),
        updated_at=datetime.fromtimestamp(stamps.updated_s, UTC),
        **_SERVER_DEFAULTS,
    )
    return job


@cache
def _job_manager() -> Any:
    """Job's instrumentation manager, once the mappers are configured."""
    configure_mappers()
    return manager_of_class(Job)


#: Columns the INSERT leaves to the table's defaults, as the database fills them (see the model).
_SERVER_DEFAULTS: dict[str, Any] = {
    "attempts": 0,
    "progress": Decimal("0.00"),
    "total": 0,
    "success_count": 0,
    "failure_count": 0,
    "skip_count": 0,
}


#: What an INSERT returns: the timestamps the database fills in (as epoch seconds: no strptime per row).
_RETURNING_STAMPS = (
    "RETURNING extract(epoch FROM created_at)::float8 AS created_s, extract(epoch FROM updated_at)::float8 AS updated_s"
)


@lru_cache(maxsize=16)
def _insert_statement(keys: tuple[str, ...]) -> Any:
    """INSERT … ON CONFLICT DO NOTHING returning the two timestamps, as a text statement SQLAlchemy compiles once
    (the postgresql dialect's `insert()` is never cached: compiling it was two thirds of a creation's CPU)."""
    table = Job.__table__
    columns, params = ", ".join(keys), ", ".join(":" + k for k in keys)
    sql = f"INSERT INTO {table.name} ({columns}) VALUES ({params}) ON CONFLICT DO NOTHING {_RETURNING_STAMPS}"  # noqa: S608
    statement = text(sql).bindparams(*(bindparam(k, type_=table.c[k].type) for k in keys))
    return statement.columns(column("created_s", Float), column("updated_s", Float)).execution_options(prepared=True)


@dataclass(frozen=True)
class BulkCreated:
    """The batch's jobs, in request order. `ids` is free; `jobs` builds the Job objects on first use (a
    caller that needs only the ids does not pay ~20 µs an object)."""

    stored: list[Job | tuple[dict[str, Any], Any]]  # an earlier Job, or (values sent, timestamps returned)

    @property
    def created(self) -> list[bool]:
        """Per job: False where an earlier job was returned (a replay, or an active job with the dedupe key)."""
        return [not isinstance(item, Job) for item in self.stored]

    @property
    def ids(self) -> list[uuid.UUID]:
        return [item.id if isinstance(item, Job) else item[0]["id"] for item in self.stored]

    @cached_property
    def jobs(self) -> list[Job]:
        return [item if isinstance(item, Job) else _built(*item) for item in self.stored]


def create_jobs(
    *,
    user_id: uuid.UUID | None,
    requests: Sequence[JobRequest],
    idempotency_key: str | None = None,
    request_hash: str | None = None,
    origin: Origin = Origin.API,
) -> BulkCreated:
    """Up to MAX_BATCH jobs in one transaction: every request is admitted first (all or nothing), the rows go
    in with one INSERT, credits are reserved together, the wake-ups leave after commit.

    With `idempotency_key`, job i gets the key `<key>#<i>`: replaying the same batch returns the same jobs, and
    the same key with a different body is a conflict.
    """
    if not 1 <= len(requests) <= MAX_BATCH:
        raise InvalidInput(f"A batch holds 1-{MAX_BATCH} jobs.", details={"field": "jobs", "count": len(requests)})
    if idempotency_key is not None:
        requests = [replace(r, idempotency_key=f"{idempotency_key}#{i}") for i, r in enumerate(requests)]
    now = datetime.now(UTC)
    with session() as tx:
        admitted = admit(tx, user_id, requests, origin=origin)
        rows = [_row_values(user_id, a, request_hash, now) for a in admitted]
        stamps = {row.id_text: row for row in tx.execute(_bulk_insert_statement(), {"rows": _as_records(rows)})}
        stored: list[Job | tuple[dict[str, Any], Any]] = []
        fresh: list[SimpleNamespace] = []  # what the creation consequences see: the lifecycle's row attributes
        for values, request in zip(rows, requests, strict=True):
            stamp = stamps.get(str(values["id"]))
            if stamp is None:
                stored.append(_existing(tx, user_id, request.idempotency_key, request_hash, request.dedupe_key))
            else:
                stored.append((values, stamp))
                fresh.append(SimpleNamespace(**values))
        lifecycle.created(tx, fresh)
        _wake(tx, [(job.id, job.status, job.run_at) for job in fresh])
        return BulkCreated(stored)


def _row_values(user_id: uuid.UUID | None, admitted: Admitted, request_hash: str | None, now: datetime) -> dict:
    request, spec = admitted.request, admitted.job_type
    deferred = admitted.run_at > now + QUEUE_AHEAD
    # A job's own retry delay replaces the type's base; the cap rises to it, so the first retry can wait it all.
    retry_base_ms = spec.retry_base_ms if request.retry_delay_ms is None else request.retry_delay_ms
    return {
        "id": uuid.uuid4(),
        "user_id": user_id,
        "project_id": request.project_id,
        "parent_id": request.parent_id,
        "schedule_id": request.schedule_id,
        "type": spec.name,
        "name": request.name,
        "payload": admitted.payload.model_dump(mode="json"),
        "status": JobStatus.PENDING.value if deferred else JobStatus.QUEUED.value,
        "priority": int(request.priority),
        "max_attempts": request.max_attempts or spec.max_attempts,
        "retry_base_ms": retry_base_ms,
        "retry_cap_ms": max(spec.retry_cap_ms, retry_base_ms),
        "run_at": admitted.run_at,
        "timeout_s": request.timeout_s or spec.timeout_s,
        "enqueued_at": None if deferred else now,
        "webhook_url": request.webhook_url,
        "cost_credits": admitted.cost,
        "input_media_id": request.input_media_id,
        "idempotency_key": request.idempotency_key,
        "request_hash": request_hash,
        "dedupe_key": request.dedupe_key,
    }


def _wake(s: Session, jobs: Sequence[tuple[uuid.UUID, str, datetime]]) -> None:
    """Wake-ups for the queued ones, delayed until their run_at (rounded up: never early)."""
    now = datetime.now(UTC)
    wakeups.after_commit(
        s,
        [
            wakeups.Wakeup(job_id, wakeups.delay_until(run_at, now))
            for job_id, status, run_at in jobs
            if status == JobStatus.QUEUED
        ],
    )


_BULK_KEYS = (
    "id",
    "user_id",
    "project_id",
    "parent_id",
    "schedule_id",
    "type",
    "name",
    "payload",
    "status",
    "priority",
    "max_attempts",
    "retry_base_ms",
    "retry_cap_ms",
    "run_at",
    "timeout_s",
    "enqueued_at",
    "webhook_url",
    "cost_credits",
    "input_media_id",
    "idempotency_key",
    "request_hash",
    "dedupe_key",
)  # what _row_values fills


@lru_cache(maxsize=1)
def _bulk_insert_statement() -> Any:
    """One INSERT … SELECT FROM jsonb_to_recordset(:rows): a whole batch in one statement and one parameter."""
    table = Job.__table__
    dialect = postgresql.dialect()
    record = ", ".join(f"{k} {table.c[k].type.compile(dialect=dialect)}" for k in _BULK_KEYS)
    columns = ", ".join(_BULK_KEYS)
    sql = (
        f"INSERT INTO {table.name} ({columns}) SELECT {columns} "  # noqa: S608 - model column names only
        f"FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS v({record}) ON CONFLICT DO NOTHING "
        f"{_RETURNING_STAMPS}, id::text AS id_text"
    )
    return text(sql).columns(column("created_s", Float), column("updated_s", Float), column("id_text"))


def _as_records(rows: Sequence[dict[str, Any]]) -> str:
    """The rows as one JSON array for jsonb_to_recordset; UUIDs and datetimes as their text, which Postgres reads
    back (`default` runs for those two only, not for every value)."""
    return json.dumps(rows, default=str)


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
    job = _active_with_dedupe_key(s, user_id, dedupe_key)
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
    """What `GET /v1/jobs` narrows by; every field is optional and they combine with AND.

    `statuses` matches any of them; `type` is one exact type, `type_prefix` every type that starts with it
    (`media.`: LIKE wildcards in it are matched literally).
    """

    statuses: frozenset[JobStatus] = frozenset()
    type: str | None = None
    project_id: uuid.UUID | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    priority: JobPriority | None = None
    type_prefix: str | None = None
    schedule_id: uuid.UUID | None = None
    worker_id: uuid.UUID | None = None


def list_jobs(user_id: uuid.UUID, flt: JobFilter, *, limit: int, cursor: str | None) -> tuple[list[Job], str | None]:
    """Newest first, keyset-paginated on (created_at, id) so pages stay stable while jobs are added.

    Always one user's jobs: the (user_id, created_at) index walks them newest first and the other filters are
    checked on the way (docs/jobs.md, "Listing and stats", has the plans).
    """
    query = select(Job).where(Job.user_id == user_id)
    if flt.statuses:
        query = query.where(Job.status.in_(sorted(s.value for s in flt.statuses)))
    if flt.type:
        query = query.where(Job.type == flt.type)
    if flt.type_prefix:
        query = query.where(Job.type.startswith(flt.type_prefix, autoescape=True))  # % and _ literal
    if flt.priority is not None:
        query = query.where(Job.priority == int(flt.priority))
    if flt.project_id:
        query = query.where(Job.project_id == flt.project_id)
    if flt.schedule_id:
        query = query.where(Job.schedule_id == flt.schedule_id)
    if flt.worker_id:
        query = query.where(Job.worker_id == flt.worker_id)
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
        job = lifecycle.move_one(tx, Action.CANCEL, Job.id == job_id, Job.user_id == user_id, finished_at=func.now())
        if job is not None:
            return job
        running = lifecycle.request_cancel(tx, Job.id == job_id, Job.user_id == user_id)
        if running:
            return running[0]
        current = get_job(user_id, job_id, s=tx)
        raise Conflict(
            "Only pending, queued, retrying or running jobs can be cancelled.",
            code="job_not_cancellable",
            details={"status": current.status},
        )


def retry_job(user_id: uuid.UUID, job_id: uuid.UUID) -> Job:
    """Run a failed or cancelled job again from scratch: attempts reset to 0 (its consequences reserve the
    credits anew and reopen failed segments).

    A job whose dedupe key is now held by another active job cannot run beside it: 409 naming that job.
    """
    with session() as tx:
        try:
            with tx.begin_nested():
                job = lifecycle.move_one(
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
        except IntegrityError as exc:
            current = get_job(user_id, job_id, s=tx)
            active = _active_with_dedupe_key(tx, user_id, current.dedupe_key, exclude=job_id)
            if active is None:
                raise
            raise Conflict(
                "Another active job holds this job's dedupe key; wait for it or cancel it first.",
                code="dedupe_key_active",
                details={"dedupe_key": current.dedupe_key, "active_job_id": str(active.id)},
            ) from exc
        if job is None:
            current = get_job(user_id, job_id, s=tx)
            raise Conflict(
                "Only failed or cancelled jobs can be retried.",
                code="job_not_retryable",
                details={"status": current.status},
            )
        wakeups.after_commit(tx, [wakeups.Wakeup(job_id)])
        return job


def _active_with_dedupe_key(
    s: Session, user_id: uuid.UUID | None, dedupe_key: str | None, *, exclude: uuid.UUID | None = None
) -> Job | None:
    if dedupe_key is None:
        return None
    query = select(Job).where(
        Job.user_id.is_not_distinct_from(user_id),
        Job.dedupe_key == dedupe_key,
        Job.status.in_([str(x) for x in ACTIVE_JOB_STATUSES]),
    )
    if exclude is not None:
        query = query.where(Job.id != exclude)
    return s.scalar(query)


def commit_job(user_id: uuid.UUID, job_id: uuid.UUID) -> Job:
    """Accept a job in review (or a failed one) as done, as seed 000's REVIEW/FAILURE → DONE commit."""
    with session() as tx:
        job = lifecycle.move_one(tx, Action.COMMIT, Job.id == job_id, Job.user_id == user_id, committed_at=func.now())
        if job is None:
            current = get_job(user_id, job_id, s=tx)
            raise Conflict(
                "Only jobs in review or failed can be committed.",
                code="job_not_committable",
                details={"status": current.status},
            )
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
