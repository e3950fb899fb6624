"""`/v1/items`: content items to publish, their ordered files, scheduling and publish-now. Caller-scoped."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from functions.api.auth import caller
from shared.db.enums import ItemStatus, MatureLevel, UploadMode
from shared.publishing import items as service

router = Router()

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Description = Annotated[str, Field(max_length=50_000)]
Category = Annotated[str, Field(max_length=500)]
CollectionId = Annotated[str, Field(min_length=1, max_length=200)]


class ItemSettings(BaseModel):
    """Seed 002's per-item settings; omitted fields keep their value (defaults on create)."""

    model_config = ConfigDict(extra="forbid")

    is_mature: bool | None = None
    mature_level: MatureLevel | None = Field(default=None, description="null clears it")
    allow_comments: bool | None = None
    allow_free_download: bool | None = None
    is_ai_generated: bool | None = None
    no_ai: bool | None = None
    remote_draft_only: bool | None = Field(default=None, description="Upload as a draft on the platform only.")
    add_watermark: bool | None = None
    display_resolution: Annotated[int, Field(ge=0, le=8)] | None = Field(default=None, description="0 = original")
    upload_mode: UploadMode | None = None


class ItemFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: Description | None = None
    tags: Annotated[list[Tag], Field(max_length=100)] | None = None
    category_path: Category | None = None
    collection_ids: Annotated[list[CollectionId], Field(max_length=100)] | None = None
    settings: ItemSettings | None = None
    project_id: uuid.UUID | None = None
    publisher_id: uuid.UUID | None = Field(default=None, description="Default: your first enabled publisher.")
    automation_id: uuid.UUID | None = None

    def changes(self) -> dict[str, Any]:
        """What the request sets: given fields only; null clears optional ones, never required ones."""
        given = self.model_dump(exclude_unset=True, exclude={"settings", "status"}, mode="json")
        fields = {k: v for k, v in given.items() if not (k in ("title", "tags", "collection_ids") and v is None)}
        for key in ("project_id", "publisher_id", "automation_id"):
            if fields.get(key) is not None:
                fields[key] = uuid.UUID(fields[key])
        if self.settings is not None:
            for key, value in self.settings.model_dump(exclude_unset=True, mode="json").items():
                if value is not None or key == "mature_level":
                    fields[key] = value
        return fields


class ItemCreate(ItemFields):
    title: Title
    status: Literal["review", "draft"] = "draft"


class ItemUpdate(ItemFields):
    title: Title | None = None
    status: Literal["draft"] | None = Field(default=None, description="`draft` accepts an item in review.")


class FileAdd(BaseModel):
    model_config = ConfigDict(extra="forbid")

    media_id: uuid.UUID
    sort_order: Annotated[int, Field(ge=0, le=1_000_000)] | None = Field(default=None, description="Default: last.")


class ScheduleRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scheduled_at: datetime = Field(description="In the future, with a time zone.")
    jitter_seconds: Annotated[int, Field(ge=0, le=service.MAX_JITTER_S)] = Field(
        default=0, description="Publish up to this many seconds later, at random (the drawn delay is stored)."
    )


class FileOut(BaseModel):
    media_id: uuid.UUID
    sort_order: int
    filename: str | None
    content_type: str | None
    status: str
    width: int | None
    height: int | None
    duration_ms: int | None


class ItemOut(BaseModel):
    id: uuid.UUID
    status: str
    title: str
    description: str | None
    tags: list[str]
    category_path: str | None
    collection_ids: list[str]
    settings: dict[str, Any]
    files: list[FileOut]
    project_id: uuid.UUID | None
    publisher_id: uuid.UUID | None
    automation_id: uuid.UUID | None
    scheduled_at: datetime | None
    jitter_seconds: int
    actual_publish_at: datetime | None
    published_at: datetime | None
    remote_id: str | None
    remote_url: str | None
    error_message: str | None
    retry_count: int
    last_retry_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, view: service.ItemView) -> ItemOut:
        item = view.item
        return cls(
            id=item.id,
            status=item.status,
            title=item.title,
            description=item.description,
            tags=list(item.tags or []),
            category_path=item.category_path,
            collection_ids=list(item.collection_ids or []),
            settings={name: getattr(item, name) for name in service.SETTING_FIELDS},
            files=[FileOut(**vars(f)) for f in view.files],
            project_id=item.project_id,
            publisher_id=item.publisher_id,
            automation_id=item.automation_id,
            scheduled_at=item.scheduled_at,
            jitter_seconds=item.jitter_seconds,
            actual_publish_at=item.actual_publish_at,
            published_at=item.published_at,
            remote_id=item.remote_id,
            remote_url=item.remote_url,
            error_message=item.error_message,
            retry_count=item.retry_count,
            last_retry_at=item.last_retry_at,
            created_at=item.created_at,
            updated_at=item.updated_at,
        )


class ItemList(BaseModel):
    items: list[ItemOut]
    next_cursor: str | None


class PublishStarted(BaseModel):
    item: ItemOut
    job_id: uuid.UUID


@router.post("/v1/items", tags=["items"], summary="Create an item (draft, or review)")
def create_item(body: ItemCreate) -> tuple[ItemOut, int]:
    view = service.create_item(caller().user_id, body.changes(), status=ItemStatus(body.status))
    return ItemOut.of(view), 201


@router.get("/v1/items", tags=["items"], summary="List your items, newest first")
def list_items(
    status: ItemStatus | None = None,
    automation_id: uuid.UUID | None = None,
    project_id: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> ItemList:
    flt = service.ItemFilter(status, automation_id, project_id)
    views, next_cursor = service.list_items(caller().user_id, flt, limit=limit, cursor=cursor)
    return ItemList(items=[ItemOut.of(v) for v in views], next_cursor=next_cursor)


@router.get("/v1/items/<item_id>", tags=["items"], summary="One item with its files")
def get_item(item_id: uuid.UUID) -> ItemOut:
    return ItemOut.of(service.get_item(caller().user_id, item_id))


@router.patch("/v1/items/<item_id>", tags=["items"], summary="Edit an item that is not being or already published")
def update_item(item_id: uuid.UUID, body: ItemUpdate) -> ItemOut:
    view = service.update_item(caller().user_id, item_id, body.changes(), to_draft=body.status == "draft")
    return ItemOut.of(view)


@router.delete("/v1/items/<item_id>", tags=["items"], summary="Delete an item (not while publishing)")
def delete_item(item_id: uuid.UUID) -> Response[None]:
    service.delete_item(caller().user_id, item_id)
    return Response(status_code=204)


@router.post("/v1/items/<item_id>/files", tags=["items"], summary="Attach one of your ready media files")
def add_file(item_id: uuid.UUID, body: FileAdd) -> tuple[ItemOut, int]:
    return ItemOut.of(service.add_file(caller().user_id, item_id, body.media_id, body.sort_order)), 201


@router.delete("/v1/items/<item_id>/files/<media_id>", tags=["items"], summary="Remove a file from the item")
def remove_file(item_id: uuid.UUID, media_id: uuid.UUID) -> ItemOut:
    return ItemOut.of(service.remove_file(caller().user_id, item_id, media_id))


@router.post("/v1/items/<item_id>/schedule", tags=["items"], summary="Schedule (draft, scheduled or failed)")
def schedule_item(item_id: uuid.UUID, body: ScheduleRequest) -> ItemOut:
    return ItemOut.of(service.schedule_item(caller().user_id, item_id, body.scheduled_at, body.jitter_seconds))


@router.post("/v1/items/<item_id>/unschedule", tags=["items"], summary="Back to draft")
def unschedule_item(item_id: uuid.UUID) -> ItemOut:
    return ItemOut.of(service.unschedule_item(caller().user_id, item_id))


@router.post("/v1/items/<item_id>/publish-now", tags=["items"], summary="Start publishing at once (a job)")
def publish_now(item_id: uuid.UUID) -> tuple[PublishStarted, int]:
    view, job = service.publish_now(caller().user_id, item_id)
    return PublishStarted(item=ItemOut.of(view), job_id=job.id), 202
