"""`/v1/jobs`: create one or a batch (idempotent), list, stats, inspect, cancel, retry, commit, logs, segments;
`/v1/admin/jobs/stats`: the instance's queue figures."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Header, Query
from pydantic import BaseModel, ConfigDict, Field

from functions.api.auth import caller
from functions.api.params import Cursor
from functions.api.responses import extra
from shared.db.enums import JobPriority, JobStatus
from shared.db.models import Job, JobLog, JobSegment
from shared.fields import Timestamp
from shared.jobs import service, stats, workers
from shared.jobs.admission import MAX_RETRY_DELAY_MS, JobRequest
from shared.media.downloads import download_url

router = Router()
FINISHED_WITH_OUTPUT = (JobStatus.COMPLETED, JobStatus.REVIEW, JobStatus.DONE)

PriorityName = Literal["critical", "high", "normal", "low"]
MAX_STATUSES = 20  # `status` values in one request (there are nine statuses; repeats are harmless)
_STATUS = "|".join(s.value for s in JobStatus)
StatusList = Annotated[
    str,
    Field(
        pattern=rf"^({_STATUS})(,({_STATUS}))*$",
        max_length=200,
        description="A status, or several separated by commas.",
    ),
]


class JobCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    type: Annotated[str, Field(min_length=1, max_length=100)]
    payload: dict[str, Any] = Field(default_factory=dict)
    name: Annotated[str, Field(max_length=200)] | None = None
    priority: PriorityName = "normal"
    run_at: Timestamp | None = Field(default=None, description="Run no earlier than this (deferred job).")
    max_attempts: Annotated[int, Field(ge=1, le=25, strict=True)] | None = Field(
        default=None, description="Runs allowed, the first included (default: the type's)."
    )
    retry_delay_ms: Annotated[int, Field(ge=0, le=MAX_RETRY_DELAY_MS, strict=True)] | None = Field(
        default=None,
        description="Base of the exponential backoff: retry n waits up to retry_delay_ms * 2^(n-1) (full jitter), "
        "capped by the type's cap or retry_delay_ms, whichever is larger (default: the type's).",
    )
    timeout_s: Annotated[int, Field(ge=1, le=900, strict=True)] | None = None
    dedupe_key: Annotated[str, Field(min_length=1, max_length=200)] | None = Field(
        default=None, description="While a job with this key is active, creating another returns it."
    )
    webhook_url: Annotated[str, Field(max_length=2000)] | None = None
    project_id: uuid.UUID | None = None
    input_media_id: uuid.UUID | None = None

    def request(self) -> JobRequest:
        return JobRequest(
            type=self.type,
            payload=self.payload,
            name=self.name,
            priority=JobPriority[self.priority.upper()],
            run_at=self.run_at,
            max_attempts=self.max_attempts,
            retry_delay_ms=self.retry_delay_ms,
            timeout_s=self.timeout_s,
            dedupe_key=self.dedupe_key,
            webhook_url=self.webhook_url,
            project_id=self.project_id,
            input_media_id=self.input_media_id,
        )


class JobBatchCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    jobs: Annotated[list[JobCreate], Field(min_length=1, max_length=service.MAX_BATCH)]


class Counts(BaseModel):
    model_config = ConfigDict(defer_build=True)

    total: int
    success: int
    failure: int
    skip: int


class Ratios(BaseModel):
    model_config = ConfigDict(defer_build=True)

    success: float | None
    failure: float | None
    skip: float | None


class JobOut(BaseModel):
    model_config = ConfigDict(defer_build=True)

    id: uuid.UUID
    type: str
    name: str | None
    status: str
    priority: PriorityName
    payload: dict[str, Any]
    progress: float
    counts: Counts
    ratios: Ratios = Field(description="Each count over `total` (seed 000's success/failure/skip ratios).")
    attempts: int
    max_attempts: int
    retry_delay_ms: int = Field(description="Base of the exponential backoff between attempts.")
    retry_cap_ms: int = Field(description="The longest wait before a retry.")
    run_at: datetime
    timeout_s: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    committed_at: datetime | None
    cancel_requested_at: datetime | None
    result: dict[str, Any] | None
    error: str | None
    error_details: dict[str, Any] | None
    webhook_url: str | None
    cost_credits: int
    project_id: uuid.UUID | None
    parent_id: uuid.UUID | None
    schedule_id: uuid.UUID | None
    worker_id: uuid.UUID | None = Field(default=None, description="The worker of the last attempt (admin workers).")
    worker_name: str | None = Field(default=None, description="That worker's name (function/environment).")
    input_media_id: uuid.UUID | None
    output_media_id: uuid.UUID | None
    output_url: str | None = Field(default=None, description="A 5-minute download link once the job is done.")

    @classmethod
    def of(cls, job: Job, output_url: str | None = None) -> JobOut:
        def ratio(n: int) -> float | None:
            return round(n / job.total, 4) if job.total else None

        return cls(
            id=job.id,
            type=job.type,
            name=job.name,
            status=job.status,
            priority=JobPriority(job.priority).name.lower(),  # type: ignore[arg-type]
            payload=job.payload,
            progress=float(job.progress or 0),
            counts=Counts(total=job.total, success=job.success_count, failure=job.failure_count, skip=job.skip_count),
            ratios=Ratios(
                success=ratio(job.success_count), failure=ratio(job.failure_count), skip=ratio(job.skip_count)
            ),
            attempts=job.attempts,
            max_attempts=job.max_attempts,
            retry_delay_ms=job.retry_base_ms,
            retry_cap_ms=job.retry_cap_ms,
            run_at=job.run_at,
            timeout_s=job.timeout_s,
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
            committed_at=job.committed_at,
            cancel_requested_at=job.cancel_requested_at,
            result=job.result,
            error=job.error,
            error_details=job.error_details,
            webhook_url=job.webhook_url,
            cost_credits=job.cost_credits,
            project_id=job.project_id,
            parent_id=job.parent_id,
            schedule_id=job.schedule_id,
            worker_id=job.worker_id,
            worker_name=workers.name_of(job.worker_id),
            input_media_id=job.input_media_id,
            output_media_id=job.output_media_id,
            output_url=output_url,
        )


class StatusCounts(BaseModel):
    """A count for every job status (`shared.db.enums.JobStatus`), zeros included."""

    model_config = ConfigDict(defer_build=True)

    pending: int
    queued: int
    running: int
    retrying: int
    review: int
    completed: int
    failed: int
    cancelled: int
    done: int

    @classmethod
    def of(cls, counts: dict[JobStatus, int]) -> StatusCounts:
        return cls(**{status.value: n for status, n in counts.items()})


class TypeStatsOut(BaseModel):
    model_config = ConfigDict(defer_build=True)

    type: str
    total: int
    counts: StatusCounts


class JobStats(BaseModel):
    model_config = ConfigDict(defer_build=True)

    totals: StatusCounts = Field(description="Every type together.")
    types: list[TypeStatsOut] = Field(description="Per job type, by name; a type with no jobs is absent.")
    oldest_queued_at: datetime | None = Field(description="When the longest-waiting `queued` job was queued.")
    oldest_queued_age_s: float | None = Field(description="How long it has waited, in seconds; null: none queued.")
    as_of: datetime = Field(description="The database's time when the figures were read.")

    @classmethod
    def of(cls, figures: stats.QueueStats) -> JobStats:
        return cls(
            totals=StatusCounts.of(figures.totals),
            types=[TypeStatsOut(type=t.type, total=t.total, counts=StatusCounts.of(t.counts)) for t in figures.types],
            oldest_queued_at=figures.oldest_queued_at,
            oldest_queued_age_s=figures.oldest_queued_age_s,
            as_of=figures.as_of,
        )


class JobList(BaseModel):
    model_config = ConfigDict(defer_build=True)

    items: list[JobOut]
    next_cursor: str | None


class JobBatchOut(BaseModel):
    model_config = ConfigDict(defer_build=True)

    items: list[JobOut]
    created: list[bool] = Field(description="Per job: false where an earlier job was returned (replay, dedupe_key).")


class LogOut(BaseModel):
    model_config = ConfigDict(from_attributes=True, defer_build=True)

    level: str
    message: str
    data: dict[str, Any] | None
    created_at: datetime


class LogList(BaseModel):
    model_config = ConfigDict(defer_build=True)

    items: list[LogOut]


class SegmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True, defer_build=True)

    segment_index: int
    start_ms: int | None
    end_ms: int | None
    status: str
    attempts: int
    result: dict[str, Any] | None
    error: str | None
    created_at: datetime
    finished_at: datetime | None


class SegmentList(BaseModel):
    model_config = ConfigDict(defer_build=True)

    items: list[SegmentOut]


@router.post(
    "/v1/jobs",
    tags=["jobs"],
    summary="Create a job (idempotent with an Idempotency-Key header)",
    responses=extra(200, 201, 402, 409),
)
def create_job(
    body: JobCreate,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)] = None,
) -> tuple[JobOut, int]:
    created = service.create(
        caller().user_id,
        replace(body.request(), idempotency_key=idempotency_key),
        request_hash=service.request_fingerprint(body.model_dump(mode="json")) if idempotency_key else None,
    )
    # A replayed Idempotency-Key gets the first response again; a live duplicate (dedupe_key) is a 200.
    status = 201 if created.created or idempotency_key else 200
    return JobOut.of(created.job), status


@router.post(
    "/v1/jobs/batch",
    tags=["jobs"],
    summary="Create up to 1,000 jobs in one transaction (all or none; idempotent with an Idempotency-Key header)",
    responses=extra(201, 402, 409),
)
def create_jobs(
    body: JobBatchCreate,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)] = None,
) -> tuple[JobBatchOut, int]:
    created = service.create_jobs(
        user_id=caller().user_id,
        requests=[job.request() for job in body.jobs],
        idempotency_key=idempotency_key,
        request_hash=service.request_fingerprint(body.model_dump(mode="json")) if idempotency_key else None,
    )
    return JobBatchOut(items=[JobOut.of(job) for job in created.jobs], created=created.created), 201


@router.get("/v1/jobs", tags=["jobs"], summary="List your jobs, newest first")
def list_jobs(  # noqa: PLR0917 (query parameters are Powertools' positional route arguments)
    status: Annotated[
        list[StatusList] | None,
        Query(
            max_length=MAX_STATUSES,
            description="Jobs in any of these statuses: repeat the parameter (`status=queued&status=running`) "
            "or separate them by commas (`status=queued,running`).",
        ),
    ] = None,
    type: Annotated[str | None, Query(max_length=100, description="One exact job type.")] = None,
    type_prefix: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=100,
            description="Types that start with this (`media.`); `%` and `_` are matched literally.",
        ),
    ] = None,
    priority: PriorityName | None = None,
    project_id: uuid.UUID | None = None,
    schedule_id: Annotated[uuid.UUID | None, Query(description="Jobs the schedule created.")] = None,
    worker_id: Annotated[
        uuid.UUID | None, Query(description="Jobs whose last attempt ran on this worker (`GET /v1/admin/workers`).")
    ] = None,
    created_after: Timestamp | None = None,
    created_before: Timestamp | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Cursor = None,
) -> JobList:
    flt = service.JobFilter(
        statuses=frozenset(JobStatus(name) for value in status or () for name in value.split(",")),
        type=type,
        type_prefix=type_prefix,
        priority=JobPriority[priority.upper()] if priority else None,
        project_id=project_id,
        schedule_id=schedule_id,
        worker_id=worker_id,
        created_after=created_after,
        created_before=created_before,
    )
    jobs, next_cursor = service.list_jobs(caller().user_id, flt, limit=limit, cursor=cursor)
    return JobList(items=[JobOut.of(j) for j in jobs], next_cursor=next_cursor)


Since = Annotated[
    Timestamp | None,
    Query(description="Count only jobs created at or after this time (the oldest queued job is looked for in all)."),
]


@router.get("/v1/jobs/stats", tags=["jobs"], summary="Your queue at a glance: jobs per status per type, oldest wait")
def job_stats(since: Since = None) -> JobStats:
    return JobStats.of(stats.queue_stats(caller().user_id, since=since))


@router.get(
    "/v1/admin/jobs/stats",
    tags=["admin"],
    summary="The instance's queue: every user's jobs and the system's, per status per type, oldest wait",
)
def admin_job_stats(since: Since = None) -> JobStats:
    return JobStats.of(stats.queue_stats(None, everyone=True, since=since))


@router.get("/v1/jobs/<job_id>", tags=["jobs"], summary="One job: status, progress, counts, result or error")
def get_job(job_id: uuid.UUID) -> JobOut:
    user_id = caller().user_id
    job = service.get_job(user_id, job_id)
    url = None
    if job.output_media_id is not None and job.status in FINISHED_WITH_OUTPUT:
        url = download_url(user_id, job.output_media_id)
    return JobOut.of(job, url)


@router.post(
    "/v1/jobs/<job_id>/cancel",
    tags=["jobs"],
    summary="Cancel (a running job stops at its next heartbeat)",
    responses=extra(200, 409),
)
def cancel_job(job_id: uuid.UUID) -> JobOut:
    return JobOut.of(service.cancel_job(caller().user_id, job_id))


@router.post(
    "/v1/jobs/<job_id>/retry",
    tags=["jobs"],
    summary="Run a failed or cancelled job again (attempts reset)",
    responses=extra(200, 402, 409),
)
def retry_job(job_id: uuid.UUID) -> JobOut:
    return JobOut.of(service.retry_job(caller().user_id, job_id))


@router.post(
    "/v1/jobs/<job_id>/commit",
    tags=["jobs"],
    summary="Accept a job in review (or failed) as done",
    responses=extra(200, 409),
)
def commit_job(job_id: uuid.UUID) -> JobOut:
    return JobOut.of(service.commit_job(caller().user_id, job_id))


@router.get("/v1/jobs/<job_id>/logs", tags=["jobs"], summary="The job's log, oldest first")
def job_logs(
    job_id: uuid.UUID, after: Timestamp | None = None, limit: Annotated[int, Query(ge=1, le=1000)] = 200
) -> LogList:
    logs: list[JobLog] = service.job_logs(caller().user_id, job_id, limit=limit, after=after)
    return LogList(items=[LogOut.model_validate(row) for row in logs])


@router.get("/v1/jobs/<job_id>/segments", tags=["jobs"], summary="The job's segments (seed 004)")
def job_segments(job_id: uuid.UUID) -> SegmentList:
    segments: list[JobSegment] = service.job_segments(caller().user_id, job_id)
    return SegmentList(items=[SegmentOut.model_validate(row) for row in segments])
