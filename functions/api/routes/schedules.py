"""`/v1/schedules`: recurring jobs by cron expression (in an IANA zone) or fixed interval, scoped to the caller.

Every response carries `next_runs`: the next 10 run times in UTC (and the same instants on the schedule's wall
clock in `next_runs_local`), so DST effects are visible before they happen.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, ConfigDict, Field

from functions.api.auth import caller
from functions.api.params import Offset
from functions.api.responses import extra
from shared.db.enums import JobPriority
from shared.db.models import Schedule
from shared.errors import InvalidInput
from shared.fields import Flag, Int4
from shared.jobs import schedules as service
from shared.jobs.admission import MAX_RETRY_DELAY_MS

router = Router()

PriorityName = Literal["critical", "high", "normal", "low"]


#: The same bound as POST /v1/jobs (admission's), so the OpenAPI document shows it; admission checks it again.
RetryDelay = Annotated[int, Field(ge=0, le=MAX_RETRY_DELAY_MS, strict=True)]
RETRY_DELAY_DOC = (
    "Base of the exponential backoff of each job it creates, as retry_delay_ms on POST /v1/jobs (null: the job type's)."
)


def _priority(name: PriorityName) -> JobPriority:
    return JobPriority[name.upper()]


class ScheduleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    name: str = Field(min_length=1, max_length=service.MAX_NAME_CHARS)
    job_type: str = Field(min_length=1, max_length=200)
    payload: dict[str, Any] = Field(default_factory=dict)
    cron: str | None = Field(default=None, max_length=200, description="5 fields: minute hour day month weekday.")
    interval_seconds: Int4 | None = Field(default=None, description=f"At least {service.MIN_INTERVAL_S}.")
    timezone: str | None = Field(default=None, max_length=64, description="IANA zone; default: your profile's.")
    priority: PriorityName = "normal"
    max_attempts: Int4 | None = Field(default=None, description="Default: the job type's.")
    retry_delay_ms: RetryDelay | None = Field(default=None, description=RETRY_DELAY_DOC)
    enabled: Flag = True


class ScheduleUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    name: str | None = Field(default=None, min_length=1, max_length=service.MAX_NAME_CHARS)
    payload: dict[str, Any] | None = None
    cron: str | None = Field(default=None, max_length=200, description="Setting it switches off the interval.")
    interval_seconds: Int4 | None = Field(default=None, description="Setting it switches off the cron expression.")
    timezone: str | None = Field(default=None, max_length=64)
    priority: PriorityName | None = None
    max_attempts: Int4 | None = None
    retry_delay_ms: RetryDelay | None = Field(default=None, description="null: back to the job type's delay.")
    enabled: Flag | None = None


PATCHABLE = (
    "name",
    "payload",
    "cron",
    "interval_seconds",
    "timezone",
    "priority",
    "max_attempts",
    "retry_delay_ms",
    "enabled",
)
# cron and interval_seconds take null (to switch to the other kind), retry_delay_ms (back to the type's delay);
# the rest cannot be cleared.
NOT_NULL = frozenset(PATCHABLE) - {"cron", "interval_seconds", "retry_delay_ms"}


class ScheduleOut(BaseModel):
    model_config = ConfigDict(defer_build=True)

    id: uuid.UUID
    name: str
    job_type: str
    payload: dict[str, Any]
    cron: str | None
    interval_seconds: int | None
    timezone: str
    priority: PriorityName
    max_attempts: int
    retry_delay_ms: int | None = Field(description=RETRY_DELAY_DOC)
    enabled: bool
    next_run_at: datetime | None
    last_run_at: datetime | None
    last_job_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    next_runs: list[datetime] = Field(description="The next 10 run times, UTC; empty while paused.")
    next_runs_local: list[datetime] = Field(description="The same instants in the schedule's time zone.")

    @classmethod
    def of(cls, schedule: Schedule) -> ScheduleOut:
        runs = service.upcoming_runs(schedule)
        zone = ZoneInfo(schedule.timezone)
        return cls(
            id=schedule.id,
            name=schedule.name,
            job_type=schedule.job_type,
            payload=schedule.payload,
            cron=schedule.cron_expression,
            interval_seconds=schedule.interval_seconds,
            timezone=schedule.timezone,
            priority=JobPriority(schedule.priority).name.lower(),  # type: ignore[arg-type]
            max_attempts=schedule.max_attempts,
            retry_delay_ms=schedule.retry_delay_ms,
            enabled=schedule.enabled,
            next_run_at=schedule.next_run_at,
            last_run_at=schedule.last_run_at,
            last_job_id=schedule.last_job_id,
            created_at=schedule.created_at,
            updated_at=schedule.updated_at,
            next_runs=runs,
            next_runs_local=[run.astimezone(zone) for run in runs],
        )


class ScheduleList(BaseModel):
    model_config = ConfigDict(defer_build=True)

    items: list[ScheduleOut]
    next_offset: int | None = Field(description="Pass as `offset` for the next page; null on the last page.")


@router.post("/v1/schedules", tags=["schedules"], summary="Create a recurring job", responses=extra(201))
def create_schedule(body: ScheduleCreate) -> tuple[ScheduleOut, int]:
    schedule = service.create_schedule(
        caller().user_id,
        name=body.name,
        job_type=body.job_type,
        payload=body.payload,
        cron=body.cron,
        interval_seconds=body.interval_seconds,
        timezone=body.timezone,
        priority=_priority(body.priority),
        max_attempts=body.max_attempts,
        retry_delay_ms=body.retry_delay_ms,
        enabled=body.enabled,
    )
    return ScheduleOut.of(schedule), 201


@router.get("/v1/schedules", tags=["schedules"], summary="List your schedules, newest first")
def list_schedules(
    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE)] = 50,
    offset: Offset = 0,
) -> ScheduleList:
    page = service.list_schedules(caller().user_id, limit=limit, offset=offset)
    return ScheduleList(items=[ScheduleOut.of(s) for s in page.items], next_offset=page.next_offset)


@router.get("/v1/schedules/<schedule_id>", tags=["schedules"], summary="One schedule with its next 10 runs")
def get_schedule(schedule_id: uuid.UUID) -> ScheduleOut:
    return ScheduleOut.of(service.get_schedule(caller().user_id, schedule_id))


@router.patch("/v1/schedules/<schedule_id>", tags=["schedules"], summary="Change a schedule")
def update_schedule(schedule_id: uuid.UUID, body: ScheduleUpdate) -> ScheduleOut:
    given = body.model_fields_set
    for name in NOT_NULL & given:
        if getattr(body, name) is None:
            raise InvalidInput(f"{name} cannot be null.", details={"field": name})
    fields: dict[str, Any] = {name: getattr(body, name) if name in given else service.UNSET for name in PATCHABLE}
    if body.priority is not None:
        fields["priority"] = _priority(body.priority)
    return ScheduleOut.of(service.update_schedule(caller().user_id, schedule_id, **fields))


@router.post("/v1/schedules/<schedule_id>/pause", tags=["schedules"], summary="Stop creating jobs")
def pause_schedule(schedule_id: uuid.UUID) -> ScheduleOut:
    return ScheduleOut.of(service.pause_schedule(caller().user_id, schedule_id))


@router.post("/v1/schedules/<schedule_id>/resume", tags=["schedules"], summary="Resume from now (no backlog)")
def resume_schedule(schedule_id: uuid.UUID) -> ScheduleOut:
    return ScheduleOut.of(service.resume_schedule(caller().user_id, schedule_id))


@router.delete(
    "/v1/schedules/<schedule_id>", tags=["schedules"], summary="Delete a schedule; its jobs stay", responses=extra(204)
)
def delete_schedule(schedule_id: uuid.UUID) -> Response[None]:
    service.delete_schedule(caller().user_id, schedule_id)
    return Response(status_code=204)
