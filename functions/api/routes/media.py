"""`/v1/media`: request an upload (presigned POST), list, inspect (download link when ready), delete, attach."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, ConfigDict, Field

from functions.api.auth import caller
from shared.db.enums import MediaKind, MediaStatus
from shared.db.models import MediaFile
from shared.media import service, uploads
from shared.media.downloads import SERVABLE, download_url

router = Router()


class UploadCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Lengths are generous on purpose: the service sanitises the name and answers the specific error codes
    # (invalid_filename, type_not_allowed, size_not_allowed) that clients can act on.
    filename: Annotated[str, Field(max_length=1000)]
    content_type: Annotated[str, Field(max_length=255)]
    size: int = Field(description="Exact size in bytes; the presigned POST accepts only this size.")
    project_id: uuid.UUID | None = None
    ttl_seconds: int | None = Field(default=None, description="Delete the file this long after the request.")
    purpose: Annotated[str, Field(max_length=50)] | None = None


class AttachBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    job_id: uuid.UUID | None = None
    item_id: uuid.UUID | None = None


class DerivedOut(BaseModel):
    id: uuid.UUID
    derivation: str | None
    status: str
    content_type: str | None
    width: int | None
    height: int | None


class MediaOut(BaseModel):
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
    def of(cls, m: MediaFile, derived: list[MediaFile] | None = None, url: str | None = None) -> MediaOut:
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
    url: str
    fields: dict[str, str] = Field(description="Send these form fields first, then the file as `file`.")
    expires_at: datetime


class UploadCreated(BaseModel):
    media: MediaOut
    upload: UploadOut


class MediaList(BaseModel):
    items: list[MediaOut]
    next_cursor: str | None


def _servable(m: MediaFile) -> bool:
    return m.status in {x.value for x in SERVABLE}


@router.post("/v1/media", tags=["media"], summary="Request an upload: a media record and a presigned POST")
def create_upload(body: UploadCreate) -> tuple[UploadCreated, int]:
    req = uploads.UploadRequest(
        filename=body.filename,
        content_type=body.content_type,
        size=body.size,
        project_id=body.project_id,
        ttl_seconds=body.ttl_seconds,
        purpose=body.purpose,
    )
    upload = uploads.create_upload(caller().user_id, req)
    out = UploadCreated(
        media=MediaOut.of(upload.media),
        upload=UploadOut(url=upload.url, fields=upload.fields, expires_at=upload.expires_at),
    )
    return out, 201


@router.get("/v1/media", tags=["media"], summary="List your media files (not derived, not deleted), newest first")
def list_media(
    project_id: uuid.UUID | None = None,
    status: MediaStatus | None = None,
    kind: MediaKind | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> MediaList:
    views, next_cursor = service.list_media(
        caller().user_id, service.MediaFilter(project_id, status, kind), limit=limit, cursor=cursor
    )
    return MediaList(items=[MediaOut.of(v.media, v.derived) for v in views], next_cursor=next_cursor)


@router.get("/v1/media/<media_id>", tags=["media"], summary="One media file: metadata, derived files, download link")
def get_media(media_id: uuid.UUID) -> MediaOut:
    user_id = caller().user_id
    view = service.get_media(user_id, media_id)
    url = download_url(user_id, media_id) if _servable(view.media) else None
    return MediaOut.of(view.media, view.derived, url)


@router.delete("/v1/media/<media_id>", tags=["media"], summary="Delete the file and its derived files (record kept)")
def delete_media(media_id: uuid.UUID) -> MediaOut:
    view = service.delete_media(caller().user_id, media_id)
    return MediaOut.of(view.media, view.derived)


@router.post("/v1/media/<media_id>/attach", tags=["media"], summary="Attach a ready file to one of your jobs or items")
def attach_media(media_id: uuid.UUID, body: AttachBody) -> MediaOut:
    user_id = caller().user_id
    media = service.attach(None, user_id, media_id, job_id=body.job_id, item_id=body.item_id)
    view = service.get_media(user_id, media.id)
    return MediaOut.of(view.media, view.derived, download_url(user_id, media_id))
