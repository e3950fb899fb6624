"""`GET /v1/admin/workers`: the worker registry for operators (admin scope is enforced for every /v1/admin/ path)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, ConfigDict, Field

from functions.api.params import Offset
from shared.db.enums import WorkerStatus
from shared.jobs import workers as service

router = Router()


class WorkerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True, defer_build=True)

    id: uuid.UUID
    name: str
    hostname: str
    pid: int
    status: WorkerStatus
    concurrency: int
    active_jobs: int = Field(
        description="Jobs it holds a live lease on now (claimed, running or about to); 0 once stale or stopped."
    )
    processed_count: int
    failed_count: int
    last_heartbeat_at: datetime
    started_at: datetime
    stopped_at: datetime | None


class WorkerList(BaseModel):
    model_config = ConfigDict(defer_build=True)

    items: list[WorkerOut]
    next_offset: int | None = Field(description="Pass as `offset` for the next page; null on the last page.")


@router.get("/v1/admin/workers", tags=["admin"], summary="Workers, most recent heartbeat first")
def list_workers(
    status: Annotated[WorkerStatus | None, Query(description="Only workers in this state.")] = None,
    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE)] = 50,
    offset: Offset = 0,
) -> WorkerList:
    page = service.list_workers(status=status, limit=limit, offset=offset)
    items = [
        WorkerOut.model_validate(w).model_copy(update={"active_jobs": page.active_jobs.get(w.id, 0)})
        for w in page.items
    ]
    return WorkerList(items=items, next_offset=page.next_offset)
