"""Upload requests: a media record plus a presigned POST that lets the client put exactly the declared file in S3.

Everything the client declares is checked here, before any row is written or any URL is signed, so a refused
request leaves nothing behind. S3 enforces the same limits again through the POST policy's conditions (exact
size, exact content type, exact key), so a client cannot upload something other than what it declared.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared import aws
from shared.config import get_settings
from shared.db.enums import MediaStatus
from shared.db.models import MediaFile, UserSettings
from shared.db.session import unit_of_work
from shared.errors import InvalidInput
from shared.media.keys import upload_key
from shared.media.status import set_status
from shared.projects.service import owned_project

MAX_FILENAME_CHARS = 200
MAX_EXTENSION_CHARS = 20
MAX_PURPOSE_CHARS = 50
MIN_TTL_S = 60
MAX_TTL_S = 365 * 24 * 3600
_SEPARATORS = re.compile(r"[/\\]")
_LINE_SPACE = re.compile(r"[\t\n\r\v\f]")


@dataclass(frozen=True)
class UploadRequest:
    filename: str
    content_type: str
    size: int
    project_id: uuid.UUID | None = None
    ttl_seconds: int | None = None
    purpose: str | None = None


@dataclass(frozen=True)
class Upload:
    media: MediaFile
    url: str
    fields: dict[str, str]
    expires_at: datetime


def sanitize_filename(name: str | None) -> str:
    """A file name safe to use as the last segment of an S3 key and in a Content-Disposition header.

    Clients send whatever their OS produced (full Windows paths, names with control characters, "../../x"):
    keep only the last path segment, drop control/format characters, collapse whitespace and leading dots (no
    hidden files, no traversal). Letters of every script and emoji stay, because users recognise their files by
    name. NFC first, so the same visible name is always the same key.
    """
    name = unicodedata.normalize("NFC", name or "")
    name = _SEPARATORS.split(name)[-1]
    name = _LINE_SPACE.sub(" ", name)  # tabs and newlines separate words; the other control characters just go
    name = "".join(ch for ch in name if not unicodedata.category(ch).startswith("C"))
    name = " ".join(name.split()).lstrip(". ")
    if not name or name in {".", ".."}:
        raise InvalidInput(
            "The file name is empty once path components and control characters are removed.",
            code="invalid_filename",
            details={"field": "filename"},
        )
    if len(name) > MAX_FILENAME_CHARS:
        stem, dot, ext = name.rpartition(".")
        if dot and stem and len(ext) <= MAX_EXTENSION_CHARS:
            name = stem[: MAX_FILENAME_CHARS - len(ext) - 1].rstrip() + "." + ext
        else:
            name = name[:MAX_FILENAME_CHARS].rstrip()
    return name


def media_key(user_id: uuid.UUID, media_id: uuid.UUID, filename: str) -> str:
    """The upload key (`media/<user>/<media id>/<name>`, see shared.media.keys): unique per upload request."""
    return upload_key(user_id, media_id, filename)


def check_request(req: UploadRequest) -> tuple[str, str]:
    """Validate what the client declared; returns (safe filename, normalised content type). Raises InvalidInput."""
    settings = get_settings()
    filename = sanitize_filename(req.filename)
    content_type = (req.content_type or "").strip().lower()
    if content_type not in settings.media_allowed_types:
        raise InvalidInput(
            "This content type is not accepted.",
            code="type_not_allowed",
            details={"content_type": req.content_type, "allowed": settings.media_allowed_types},
        )
    if not 1 <= req.size <= settings.media_max_bytes:
        raise InvalidInput(
            f"A file is 1 to {settings.media_max_bytes} bytes.",
            code="size_not_allowed",
            details={"size": req.size, "max": settings.media_max_bytes},
        )
    if req.ttl_seconds is not None and not MIN_TTL_S <= req.ttl_seconds <= MAX_TTL_S:
        raise InvalidInput(
            f"ttl_seconds is {MIN_TTL_S} to {MAX_TTL_S}.", code="invalid_ttl", details={"field": "ttl_seconds"}
        )
    if req.purpose is not None and len(req.purpose) > MAX_PURPOSE_CHARS:
        raise InvalidInput(f"purpose is at most {MAX_PURPOSE_CHARS} characters.", details={"field": "purpose"})
    return filename, content_type


def upload_limit(s: Session, user_id: uuid.UUID) -> int:
    """The largest file this user may upload: their own limit (user_settings.media_max_bytes, set by an admin) or
    else the instance's CONVEYOR_MEDIA_MAX_BYTES — never above the instance's, which ingestion enforces too."""
    instance = get_settings().media_max_bytes
    own = s.scalar(select(UserSettings.media_max_bytes).where(UserSettings.user_id == user_id))
    return instance if own is None else min(own, instance)


def check_size_limit(s: Session, user_id: uuid.UUID, size: int) -> None:
    """Refuse a declared size above the user's limit (422 `size_not_allowed`, the limit in `details.max`)."""
    limit = upload_limit(s, user_id)
    if size > limit:
        raise InvalidInput(
            f"A file is 1 to {limit} bytes for this account.",
            code="size_not_allowed",
            details={"size": size, "max": limit},
        )


def presigned_post(key: str, content_type: str, size: int) -> dict[str, Any]:
    """A POST policy for exactly this key, size and content type (boto3 adds the bucket and key conditions)."""
    settings = get_settings()
    return aws.client("s3").generate_presigned_post(
        Bucket=settings.media_bucket,
        Key=key,
        Fields={"Content-Type": content_type},
        Conditions=[{"Content-Type": content_type}, ["content-length-range", size, size]],
        ExpiresIn=settings.media_upload_ttl_s,
    )


def create_upload(user_id: uuid.UUID, req: UploadRequest, *, s: Session | None = None) -> Upload:
    """Record the upload (status `uploading`) and sign the POST the client uses to send the file to S3."""
    filename, content_type = check_request(req)
    settings = get_settings()
    now = datetime.now(UTC)
    media_id = uuid.uuid4()
    key = media_key(user_id, media_id, filename)
    with unit_of_work(s) as tx:
        check_size_limit(tx, user_id, req.size)
        if req.project_id is not None:
            owned_project(tx, user_id, req.project_id)
        media = MediaFile(
            id=media_id,
            user_id=user_id,
            project_id=req.project_id,
            bucket=settings.media_bucket,
            key=key,
            region=settings.aws_region,
            original_filename=filename,
            declared_content_type=content_type,
            declared_size=req.size,
            status=MediaStatus.REQUESTED.value,
            purpose=req.purpose,
            ttl_seconds=req.ttl_seconds,
            expires_at=now + timedelta(seconds=req.ttl_seconds) if req.ttl_seconds else None,
        )
        tx.add(media)
        tx.flush()
        # Signing is local (no AWS call), so it happens before the status change that says a URL exists.
        post = presigned_post(key, content_type, req.size)
        set_status(
            tx, media_id, MediaStatus.UPLOADING, reason="presigned POST issued", only_from=(MediaStatus.REQUESTED,)
        )
        tx.flush()
        tx.refresh(media)
    return Upload(media, post["url"], post["fields"], now + timedelta(seconds=settings.media_upload_ttl_s))
