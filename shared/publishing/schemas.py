"""The API's request and response models for content items and publishers (`/v1/items`, `/v1/publishers`).

They live here, not in functions/api/routes/, because the function's own code ships without valid .pyc and is
compiled on every cold start, while this module ships compiled in the models layer. Each model is built on first
use (`defer_build`): a request validates against a few of them, not all. No `from __future__ import annotations`:
pydantic would then compile and evaluate every annotation string while defining the classes."""

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.db.enums import MatureLevel, PublisherKind, UploadMode
from shared.fields import Flag, SortOrder, Timestamp
from shared.publishing import items as item_service

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Description = Annotated[str, Field(max_length=50_000)]
Category = Annotated[str, Field(max_length=500)]
CollectionId = Annotated[str, Field(min_length=1, max_length=200)]


class ItemSettings(BaseModel):
    """Seed 002's per-item settings; omitted fields keep their value (defaults on create)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    is_mature: Flag | None = None
    mature_level: MatureLevel | None = Field(default=None, description="null clears it")
    allow_comments: Flag | None = None
    allow_free_download: Flag | None = None
    is_ai_generated: Flag | None = None
    no_ai: Flag | None = None
    remote_draft_only: Flag | None = Field(default=None, description="Upload as a draft on the platform only.")
    add_watermark: Flag | None = None
    display_resolution: Annotated[int, Field(ge=0, le=8, strict=True)] | None = Field(
        default=None, description="0 = original"
    )
    upload_mode: UploadMode | None = None


class ItemFields(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

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
    model_config = ConfigDict(extra="forbid", defer_build=True)

    media_id: uuid.UUID
    sort_order: Annotated[SortOrder, Field(ge=0)] | None = Field(default=None, description="Default: last.")


class ScheduleRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    scheduled_at: Timestamp = Field(description="In the future, with a time zone.")
    jitter_seconds: Annotated[int, Field(ge=0, le=item_service.MAX_JITTER_S, strict=True)] = Field(
        default=0, description="Publish up to this many seconds later, at random (the drawn delay is stored)."
    )


class FileOut(BaseModel):
    model_config = ConfigDict(defer_build=True)

    media_id: uuid.UUID
    sort_order: int
    filename: str | None
    content_type: str | None
    status: str
    width: int | None
    height: int | None
    duration_ms: int | None


class ItemOut(BaseModel):
    model_config = ConfigDict(defer_build=True)

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
    def of(cls, view: item_service.ItemView) -> "ItemOut":
        item = view.item
        return cls(
            id=item.id,
            status=item.status,
            title=item.title,
            description=item.description,
            tags=list(item.tags or []),
            category_path=item.category_path,
            collection_ids=list(item.collection_ids or []),
            settings={name: getattr(item, name) for name in item_service.SETTING_FIELDS},
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
    model_config = ConfigDict(defer_build=True)

    items: list[ItemOut]
    next_cursor: str | None


class PublishStarted(BaseModel):
    model_config = ConfigDict(defer_build=True)

    item: ItemOut
    job_id: uuid.UUID


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Url = Annotated[str, Field(min_length=1, max_length=2048)]


class PublisherCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    kind: PublisherKind = Field(description="`webhook` is built in; others need a class installed by the deployment.")
    name: Name
    endpoint_url: Url | None = Field(default=None, description="Required for `webhook`: https, public address.")
    credential_id: uuid.UUID | None = None
    settings: dict[str, Any] = Field(default_factory=dict, description="`plugin` names the class of a `custom` one.")
    enabled: Flag = True


class PublisherUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    name: Name | None = None
    endpoint_url: Url | None = None
    credential_id: uuid.UUID | None = None
    settings: dict[str, Any] | None = None
    enabled: Flag | None = None


class PublisherOut(BaseModel):
    model_config = ConfigDict(from_attributes=True, defer_build=True)

    id: uuid.UUID
    kind: str
    name: str
    endpoint_url: str | None
    credential_id: uuid.UUID | None
    settings: dict[str, Any]
    enabled: bool
    created_at: datetime
    updated_at: datetime


class PublisherList(BaseModel):
    model_config = ConfigDict(defer_build=True)

    items: list[PublisherOut]
