"""The job queue: jobs and what they leave behind (logs, segments, webhook deliveries), schedules, workers.

Postgres holds the state; SQS only carries wake-ups. Workers claim a job by leasing it (locked_by +
lease_expires_at), so a worker that dies loses its lease and housekeeping retries or fails the job.
"""

# No `from __future__ import annotations` here: SQLAlchemy would then evaluate every `Mapped[...]` string while
# mapping the class, ~10 % of the models' import, which every function pays on each cold start.

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Numeric, SmallInteger, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, Timestamps, UUIDPk
from shared.db.enums import (
    ACTIVE_JOB_STATUSES,
    RUNNABLE_JOB_STATUSES,
    JobPriority,
    JobStatus,
    LogLevel,
    SegmentStatus,
    WebhookStatus,
    WorkerStatus,
)
from shared.db.models._common import EMPTY_OBJECT, enum_check, fk, sql_list


class Job(UUIDPk, Timestamps, Base):
    """One unit of work of a registered type. Success/failure/skip ratios are derived from the counts and total."""

    __tablename__ = "jobs"

    # Nullable: system jobs (housekeeping, seed 001's queue) belong to nobody.
    user_id: Mapped[uuid.UUID | None] = fk("users.id", "CASCADE")
    project_id: Mapped[uuid.UUID | None] = fk("projects.id", "SET NULL")
    parent_id: Mapped[uuid.UUID | None] = fk("jobs.id", "CASCADE")
    schedule_id: Mapped[uuid.UUID | None] = fk("schedules.id", "SET NULL")
    type: Mapped[str]
    name: Mapped[str | None]
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=EMPTY_OBJECT)
    status: Mapped[str] = mapped_column(server_default=JobStatus.PENDING.value)
    priority: Mapped[int] = mapped_column(SmallInteger, server_default=str(int(JobPriority.NORMAL)))
    # Retries: attempt n waits min(retry_cap_ms, retry_base_ms * 2**(n-1)) plus jitter.
    attempts: Mapped[int] = mapped_column(server_default="0")
    max_attempts: Mapped[int] = mapped_column(server_default="3")
    retry_base_ms: Mapped[int] = mapped_column(server_default="1000")
    retry_cap_ms: Mapped[int] = mapped_column(server_default="300000")
    run_at: Mapped[datetime] = mapped_column(server_default=func.now())
    timeout_s: Mapped[int] = mapped_column(server_default="900")
    locked_by: Mapped[str | None]
    lease_expires_at: Mapped[datetime | None]
    # When the last SQS wake-up was sent; the sweeper re-sends for queued jobs whose message went missing.
    enqueued_at: Mapped[datetime | None]
    progress: Mapped[Decimal] = mapped_column(Numeric(5, 2), server_default="0")
    total: Mapped[int] = mapped_column(server_default="0")
    success_count: Mapped[int] = mapped_column(server_default="0")
    failure_count: Mapped[int] = mapped_column(server_default="0")
    skip_count: Mapped[int] = mapped_column(server_default="0")
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    error: Mapped[str | None] = mapped_column(Text)
    error_details: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    webhook_url: Mapped[str | None] = mapped_column(Text)
    # Where the signing secret lives (a credential id or a secret ARN), never the secret itself.
    webhook_secret_ref: Mapped[str | None]
    cost_credits: Mapped[int] = mapped_column(BigInteger, server_default="0")
    input_media_id: Mapped[uuid.UUID | None] = fk("media_files.id", "SET NULL")
    output_media_id: Mapped[uuid.UUID | None] = fk("media_files.id", "SET NULL")
    idempotency_key: Mapped[str | None]
    # Hash of the creating request: the same idempotency key with a different body is a conflict.
    request_hash: Mapped[str | None]
    dedupe_key: Mapped[str | None]
    worker_id: Mapped[uuid.UUID | None] = fk("workers.id", "SET NULL")
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    committed_at: Mapped[datetime | None]
    cancel_requested_at: Mapped[datetime | None]

    __table_args__ = (
        enum_check("status", JobStatus),
        enum_check("priority", JobPriority),
        CheckConstraint("progress >= 0 AND progress <= 100", name="progress_range"),
        CheckConstraint(
            "attempts >= 0 AND max_attempts >= 1 AND total >= 0 AND success_count >= 0"
            " AND failure_count >= 0 AND skip_count >= 0 AND cost_credits >= 0",
            name="non_negative",
        ),
        CheckConstraint("retry_base_ms >= 0 AND retry_cap_ms >= retry_base_ms", name="retry_delays"),
        CheckConstraint("timeout_s > 0", name="timeout_positive"),
        # The claim query: ORDER BY priority, run_at over runnable jobs only, so the index stays small.
        Index(
            "ix_jobs_runnable",
            "priority",
            "run_at",
            postgresql_where=text(f"status IN ({sql_list(RUNNABLE_JOB_STATUSES)})"),
        ),
        # Expired leases, found by housekeeping.
        Index("ix_jobs_running_lease", "lease_expires_at", postgresql_where=text("status = 'running'")),
        # Queued jobs whose wake-up may be lost, found by the sweeper.
        Index("ix_jobs_queued_enqueued_at", "enqueued_at", postgresql_where=text("status = 'queued'")),
        Index(None, "user_id", "status"),
        Index(None, "user_id", "created_at"),
        Index(None, "type"),
        Index(None, "parent_id", postgresql_where=text("parent_id IS NOT NULL")),
        Index(None, "schedule_id", postgresql_where=text("schedule_id IS NOT NULL")),
        Index(None, "project_id", postgresql_where=text("project_id IS NOT NULL")),
        Index(None, "worker_id", postgresql_where=text("worker_id IS NOT NULL")),
        Index(None, "input_media_id", postgresql_where=text("input_media_id IS NOT NULL")),
        Index(None, "output_media_id", postgresql_where=text("output_media_id IS NOT NULL")),
        Index("uq_jobs_user_idempotency_key", "user_id", "idempotency_key", unique=True),
        # One active job per dedupe key (and user): a second create while it is active finds the first.
        Index(
            "uq_jobs_active_dedupe_key",
            "user_id",
            "dedupe_key",
            unique=True,
            postgresql_nulls_not_distinct=True,
            postgresql_where=text(f"dedupe_key IS NOT NULL AND status IN ({sql_list(ACTIVE_JOB_STATUSES)})"),
        ),
    )


class JobLog(UUIDPk, Base):
    __tablename__ = "job_logs"

    job_id: Mapped[uuid.UUID] = fk("jobs.id", "CASCADE")
    level: Mapped[str] = mapped_column(server_default=LogLevel.INFO.value)
    message: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())

    __table_args__ = (enum_check("level", LogLevel), Index(None, "job_id", "created_at"))


class JobSegment(UUIDPk, Base):
    """A resumable slice of a long job (a transcription chunk, a TTS segment): failures retry only the slice."""

    __tablename__ = "job_segments"

    job_id: Mapped[uuid.UUID] = fk("jobs.id", "CASCADE")
    segment_index: Mapped[int]
    start_ms: Mapped[int | None] = mapped_column(BigInteger)
    end_ms: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(server_default=SegmentStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(server_default="0")
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    finished_at: Mapped[datetime | None]

    __table_args__ = (
        enum_check("status", SegmentStatus),
        CheckConstraint("end_ms >= start_ms", name="span"),
        Index("uq_job_segments_job_id_segment_index", "job_id", "segment_index", unique=True),
    )


class WebhookDelivery(UUIDPk, Timestamps, Base):
    """Outbox of webhook calls: retried on their own schedule, independent of the job's outcome."""

    __tablename__ = "webhook_deliveries"

    job_id: Mapped[uuid.UUID] = fk("jobs.id", "CASCADE")
    url: Mapped[str] = mapped_column(Text)
    event: Mapped[str]
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=EMPTY_OBJECT)
    status: Mapped[str] = mapped_column(server_default=WebhookStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(server_default=func.now())
    response_status: Mapped[int | None] = mapped_column(SmallInteger)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None]

    __table_args__ = (
        enum_check("status", WebhookStatus),
        Index(None, "job_id"),
        Index("ix_webhook_deliveries_due", "next_attempt_at", postgresql_where=text("status = 'pending'")),
    )


class Schedule(UUIDPk, Timestamps, Base):
    """A recurring job: either a cron expression (in `timezone`) or a fixed interval, never both."""

    __tablename__ = "schedules"

    user_id: Mapped[uuid.UUID | None] = fk("users.id", "CASCADE")
    name: Mapped[str]
    job_type: Mapped[str]
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=EMPTY_OBJECT)
    priority: Mapped[int] = mapped_column(SmallInteger, server_default=str(int(JobPriority.NORMAL)))
    max_attempts: Mapped[int] = mapped_column(server_default="3")
    # The base of each job's backoff (JobRequest.retry_delay_ms); NULL: the job type's retry_base_ms.
    retry_delay_ms: Mapped[int | None]
    cron_expression: Mapped[str | None]
    interval_seconds: Mapped[int | None]
    timezone: Mapped[str] = mapped_column(server_default="UTC")
    enabled: Mapped[bool] = mapped_column(server_default=text("true"))
    next_run_at: Mapped[datetime | None]
    last_run_at: Mapped[datetime | None]
    # use_alter: jobs and schedules reference each other.
    last_job_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL", use_alter=True))

    __table_args__ = (
        enum_check("priority", JobPriority),
        CheckConstraint("(cron_expression IS NULL) <> (interval_seconds IS NULL)", name="cron_or_interval"),
        CheckConstraint("interval_seconds > 0", name="interval_positive"),
        CheckConstraint("max_attempts >= 1", name="max_attempts_positive"),
        CheckConstraint("retry_delay_ms >= 0", name="retry_delay_non_negative"),
        Index(None, "user_id"),
        Index("ix_schedules_due", "next_run_at", postgresql_where=text("enabled")),
    )


class Worker(UUIDPk, Base):
    """A worker process or Lambda execution environment, known by its heartbeats."""

    __tablename__ = "workers"

    name: Mapped[str]
    hostname: Mapped[str]
    pid: Mapped[int]
    status: Mapped[str] = mapped_column(server_default=WorkerStatus.ACTIVE.value)
    concurrency: Mapped[int] = mapped_column(server_default="1")
    active_jobs: Mapped[int] = mapped_column(server_default="0")  # as of the last heartbeat; the API counts leases
    processed_count: Mapped[int] = mapped_column(BigInteger, server_default="0")
    failed_count: Mapped[int] = mapped_column(BigInteger, server_default="0")
    last_heartbeat_at: Mapped[datetime] = mapped_column(server_default=func.now())
    started_at: Mapped[datetime] = mapped_column(server_default=func.now())
    stopped_at: Mapped[datetime | None]

    __table_args__ = (enum_check("status", WorkerStatus), Index(None, "status"), Index(None, "last_heartbeat_at"))
