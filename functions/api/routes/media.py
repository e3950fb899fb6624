"""`/v1/media`: request an upload (presigned POST), list, inspect (download link when ready), delete, attach."""

from __future__ import annotations

import uuid
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from functions.api.auth import caller
from functions.api.params import Cursor
from functions.api.responses import extra
from shared.db.enums import MediaKind, MediaStatus
from shared.db.models import MediaFile
from shared.media import service, uploads
from shared.media.downloads import SERVABLE, download_url
from shared.media.schemas import AttachBody, MediaList, MediaOut, UploadCreate, UploadCreated, UploadOut

router = Router()


def _servable(m: MediaFile) -> bool:
    return m.status in {x.value for x in SERVABLE}


@router.post(
    "/v1/media", tags=["media"], summary="Request an upload: a media record and a presigned POST", responses=extra(201)
)
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
    cursor: Cursor = None,
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


@router.post(
    "/v1/media/<media_id>/attach",
    tags=["media"],
    summary="Attach a ready file to one of your jobs or items",
    responses=extra(200, 409),
)
def attach_media(media_id: uuid.UUID, body: AttachBody) -> MediaOut:
    user_id = caller().user_id
    media = service.attach(None, user_id, media_id, job_id=body.job_id, item_id=body.item_id)
    view = service.get_media(user_id, media.id)
    return MediaOut.of(view.media, view.derived, download_url(user_id, media_id))
