"""The API's request and response models for media files and uploads (`/v1/media`).

They live here, not in functions/api/routes/, because the function's own code ships without valid .pyc and is
compiled on every cold start, while this module ships compiled in the models layer. Each model is built on first
use (`defer_build`): a request validates against a few of them, not all. No `from __future__ import annotations`:
pydantic would then compile and evaluate every annotation string while defining the classes."""

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from shared.db.models import MediaFile
from shared.fields import Int4, Int8


class UploadCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    # Lengths are generous on purpose: the service sanitises the name and answers the specific error codes
    # (invalid_filename, type_not_allowed, size_not_allowed) that clients can act on.
    filename: Annotated[str, Field(max_length=1000)]
    content_type: Annotated[str, Field(max_length=255)]
    size: Int8 = Field(description="Exact size in bytes; the presigned POST accepts only this size.")
    project_id: uuid.UUID | None = None
    ttl_seconds: Int4 | None = Field(default=None, description="Delete the file this long after the request.")
    purpose: Annotated[str, Field(max_length=50)] | None = None


class AttachBody(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    job_id: uuid.UUID | None = None
    item_id: uuid.UUID | None = None


class DerivedOut(BaseModel):
    model_config = ConfigDict(defer_build=True)

    id: uuid.UUID
    derivation: str | None
    status: str
    content_type: str | None
    width: int | None
    height: int | None


class MediaOut(BaseModel):
    model_config = ConfigDict(defer_build=True)

    id: uuid.UUID
    status: str
    filename: str | None
    declared_content_type: str | None
    content_type: str | None
    declared_size: int | None
    size: int | None = Field(description="Actual size in bytes, once the object was inspected.")
    checksum_sha256: str | None
    kind: str | None
    width: int | None
    height: int | None
    duration_ms: int | None
    frame_rate: float | None
    bitrate: int | None
    orientation: str | None
    is_animated: bool | None
    container: str | None
    video_codec: str | None
    audio_codec: str | None
    streaming_format: str | None
    stream_count: int | None
    quarantine_reason: str | None
    project_id: uuid.UUID | None
    purpose: str | None
    derived_from_id: uuid.UUID | None
    derivation: str | None
    derived: list[DerivedOut]
    ttl_seconds: int | None
    expires_at: datetime | None
    attached_at: datetime | None
    deleted_at: datetime | None
    created_at: datetime
    status_changed_at: datetime
    download_url: str | None = Field(default=None, description="A 5-minute GET link, when the file is servable.")

    @classmethod
    def of(cls, m: MediaFile, derived: list[MediaFile] | None = None, url: str | None = None) -> "MediaOut":
        return cls(
            id=m.id,
            status=m.status,
            filename=m.original_filename,
            declared_content_type=m.declared_content_type,
            content_type=m.content_type,
            declared_size=m.declared_size,
            size=m.size_bytes,
            checksum_sha256=m.checksum_sha256,
            kind=m.kind,
            width=m.width,
            height=m.height,
            duration_ms=m.duration_ms,
            frame_rate=float(m.frame_rate) if m.frame_rate is not None else None,
            bitrate=m.bitrate,
            orientation=m.orientation,
            is_animated=m.is_animated,
            container=m.container,
            video_codec=m.video_codec,
            audio_codec=m.audio_codec,
            streaming_format=m.streaming_format,
            stream_count=m.stream_count,
            quarantine_reason=m.quarantine_reason,
            project_id=m.project_id,
            purpose=m.purpose,
            derived_from_id=m.derived_from_id,
            derivation=m.derivation,
            derived=[
                DerivedOut(
                    id=d.id,
                    derivation=d.derivation,
                    status=d.status,
                    content_type=d.content_type,
                    width=d.width,
                    height=d.height,
                )
                for d in derived or []
            ],
            ttl_seconds=m.ttl_seconds,
            expires_at=m.expires_at,
            attached_at=m.attached_at,
            deleted_at=m.deleted_at,
            created_at=m.created_at,
            status_changed_at=m.status_changed_at,
            download_url=url,
        )


class UploadOut(BaseModel):
    model_config = ConfigDict(defer_build=True)

    url: str
    fields: dict[str, str] = Field(description="Send these form fields first, then the file as `file`.")
    expires_at: datetime


class UploadCreated(BaseModel):
    model_config = ConfigDict(defer_build=True)

    media: MediaOut
    upload: UploadOut


class MediaList(BaseModel):
    model_config = ConfigDict(defer_build=True)

    items: list[MediaOut]
    next_cursor: str | None
