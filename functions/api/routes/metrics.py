"""`/v1/metrics`: the caller's recorded measurements, aggregated by name, label and time bucket (seed 000)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, ConfigDict, Field

from functions.api.auth import caller
from shared.fields import Timestamp
from shared.metrics import service

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
