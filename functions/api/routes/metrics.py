"""`/v1/metrics`: the caller's measurements (seed 000) — recorded, listed raw, aggregated by name, label and time
bucket. Every route sees the caller's own measurements only."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, ConfigDict, Field

from functions.api.auth import caller
from functions.api.params import Cursor
from functions.api.responses import extra
from shared.fields import Timestamp
from shared.metrics import service
from shared.metrics.schemas import MetricIn, MetricOut, MetricPage

router = Router()


class MetricBucketOut(BaseModel):
    model_config = ConfigDict(defer_build=True)

    name: str
    label: str | None
    bucket_start: datetime = Field(description="Start of the bucket, UTC.")
    count: int
    sum: float
    min: float
    max: float
    avg: float


class MetricsOut(BaseModel):
    model_config = ConfigDict(defer_build=True)

    since: datetime
    until: datetime
    bucket: Literal["minute", "hour", "day"]
    items: list[MetricBucketOut] = Field(description="Ordered by bucket_start, then name, then label.")


@router.get("/v1/metrics", tags=["metrics"], summary="Your measurements aggregated per name, label and time bucket")
def get_metrics(
    name: Annotated[str | None, Query(max_length=service.MAX_NAME_CHARS)] = None,
    label: Annotated[str | None, Query(max_length=1_000)] = None,
    since: Annotated[Timestamp | None, Query(description="Inclusive, with a time zone; default until - 24h.")] = None,
    until: Annotated[Timestamp | None, Query(description="Exclusive, with a time zone; default now.")] = None,
    bucket: Annotated[Literal["minute", "hour", "day"], Query()] = "hour",
) -> MetricsOut:
    since, until = service.resolve_range(since, until, bucket)
    rows = service.aggregate(caller().user_id, name=name, label=label, since=since, until=until, bucket=bucket)
    return MetricsOut(
        since=since,
        until=until,
        bucket=bucket,
        items=[MetricBucketOut(**row.__dict__) for row in rows],
    )


@router.post("/v1/metrics", tags=["metrics"], summary="Record a measurement", responses=extra(201))
def record_metric(body: MetricIn) -> tuple[MetricOut, int]:
    row = service.add(
        body.name,
        body.value,
        user_id=caller().user_id,
        reference=body.reference,
        start=body.start,
        label=body.label,
    )
    return MetricOut.model_validate(row), 201


@router.get("/v1/metrics/raw", tags=["metrics"], summary="Your measurements one by one, newest first")
def list_raw_metrics(  # noqa: PLR0917 (query parameters are Powertools' positional route arguments)
    name: Annotated[str | None, Query(max_length=service.MAX_NAME_CHARS)] = None,
    reference: Annotated[str | None, Query(max_length=1_000)] = None,
    label: Annotated[str | None, Query(max_length=1_000)] = None,
    since: Annotated[Timestamp | None, Query(description="Inclusive, with a time zone.")] = None,
    until: Annotated[Timestamp | None, Query(description="Exclusive, with a time zone.")] = None,
    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE)] = 50,
    cursor: Cursor = None,
) -> MetricPage:
    flt = service.MetricFilter(name=name, reference=reference, label=label, since=since, until=until)
    rows, next_cursor = service.list_measurements(caller().user_id, flt, limit=limit, cursor=cursor)
    return MetricPage(items=[MetricOut.model_validate(r) for r in rows], next_cursor=next_cursor)
