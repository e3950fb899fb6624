"""`/v1/items`: content items to publish, their ordered files, scheduling and publish-now. Caller-scoped."""

from __future__ import annotations

import uuid
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from functions.api.auth import caller
from functions.api.params import Cursor
from functions.api.responses import extra
from shared.db.enums import ItemStatus
from shared.publishing import items as service
from shared.publishing.schemas import (
    FileAdd,
    ItemCreate,
    ItemList,
    ItemOut,
    ItemUpdate,
    PublishStarted,
    ScheduleRequest,
)

router = Router()


@router.post("/v1/items", tags=["items"], summary="Create an item (draft, or review)", responses=extra(201))
def create_item(body: ItemCreate) -> tuple[ItemOut, int]:
    view = service.create_item(caller().user_id, body.changes(), status=ItemStatus(body.status))
    return ItemOut.of(view), 201


@router.get("/v1/items", tags=["items"], summary="List your items, newest first")
def list_items(
    status: ItemStatus | None = None,
    automation_id: uuid.UUID | None = None,
    project_id: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Cursor = None,
) -> ItemList:
    flt = service.ItemFilter(status, automation_id, project_id)
    views, next_cursor = service.list_items(caller().user_id, flt, limit=limit, cursor=cursor)
    return ItemList(items=[ItemOut.of(v) for v in views], next_cursor=next_cursor)


@router.get("/v1/items/<item_id>", tags=["items"], summary="One item with its files")
def get_item(item_id: uuid.UUID) -> ItemOut:
    return ItemOut.of(service.get_item(caller().user_id, item_id))


@router.patch(
    "/v1/items/<item_id>",
    tags=["items"],
    summary="Edit an item that is not being or already published",
    responses=extra(200, 409),
)
def update_item(item_id: uuid.UUID, body: ItemUpdate) -> ItemOut:
    view = service.update_item(caller().user_id, item_id, body.changes(), to_draft=body.status == "draft")
    return ItemOut.of(view)


@router.delete(
    "/v1/items/<item_id>", tags=["items"], summary="Delete an item (not while publishing)", responses=extra(204, 409)
)
def delete_item(item_id: uuid.UUID) -> Response[None]:
    service.delete_item(caller().user_id, item_id)
    return Response(status_code=204)


@router.post(
    "/v1/items/<item_id>/files",
    tags=["items"],
    summary="Attach one of your ready media files",
    responses=extra(201, 409),
)
def add_file(item_id: uuid.UUID, body: FileAdd) -> tuple[ItemOut, int]:
    return ItemOut.of(service.add_file(caller().user_id, item_id, body.media_id, body.sort_order)), 201


@router.delete(
    "/v1/items/<item_id>/files/<media_id>",
    tags=["items"],
    summary="Remove a file from the item",
    responses=extra(200, 409),
)
def remove_file(item_id: uuid.UUID, media_id: uuid.UUID) -> ItemOut:
    return ItemOut.of(service.remove_file(caller().user_id, item_id, media_id))


@router.post(
    "/v1/items/<item_id>/schedule",
    tags=["items"],
    summary="Schedule (draft, scheduled or failed)",
    responses=extra(200, 409),
)
def schedule_item(item_id: uuid.UUID, body: ScheduleRequest) -> ItemOut:
    return ItemOut.of(service.schedule_item(caller().user_id, item_id, body.scheduled_at, body.jitter_seconds))


@router.post("/v1/items/<item_id>/unschedule", tags=["items"], summary="Back to draft", responses=extra(200, 409))
def unschedule_item(item_id: uuid.UUID) -> ItemOut:
    return ItemOut.of(service.unschedule_item(caller().user_id, item_id))


@router.post(
    "/v1/items/<item_id>/publish-now",
    tags=["items"],
    summary="Start publishing at once (a job)",
    responses=extra(202, 402, 409),
)
def publish_now(item_id: uuid.UUID) -> tuple[PublishStarted, int]:
    view, job = service.publish_now(caller().user_id, item_id)
    return PublishStarted(item=ItemOut.of(view), job_id=job.id), 202
