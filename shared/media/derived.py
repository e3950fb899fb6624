"""Derived files: a JPEG thumbnail for every image and a poster frame for every video, made by jobs.

Ingestion calls `enqueue_derivatives` in the transaction that marks a file ready, so the jobs exist exactly when
the file does. Each job is idempotent: a dedupe key stops a second active job for the same (file, derivation),
and the handler reuses a derived row that an earlier attempt left behind instead of making another.

A derived row is committed (status `uploading`, origin `generated`) before its object is written, so the S3
event for that object always finds a record; ingestion leaves generated records alone. Once the object is in
S3 the row gets its size, checksum and dimensions and moves to `ready`.
"""

from __future__ import annotations

import hashlib
import io
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shared import aws
from shared.config import get_settings
from shared.db import session
from shared.db.enums import Derivation, MediaKind, MediaOrigin, MediaStatus
from shared.db.models import MediaFile
from shared.jobs.context import JobContext
from shared.jobs.errors import NonRetryable
from shared.jobs.registry import job_type
from shared.jobs.service import Created, create_job
from shared.media.status import set_status
from shared.resources import MEDIA_PREFIX

THUMBNAIL_TYPE = "media.thumbnail"
POSTER_TYPE = "media.poster"
THUMBNAIL_MAX_PX = 320
POSTER_MAX_PX = 1280  # a poster stands in for the video, but a 4K still is never needed
JPEG_QUALITY = 85
MAX_FRAMES_AFTER_SEEK = 600  # bounded decoding when the keyframe before the target is far away
SOURCE_STATUSES = (MediaStatus.READY.value, MediaStatus.ATTACHED.value)

_JOB_BY_KIND: dict[str, tuple[str, Derivation]] = {
    MediaKind.IMAGE.value: (THUMBNAIL_TYPE, Derivation.THUMBNAIL),
    MediaKind.VIDEO.value: (POSTER_TYPE, Derivation.POSTER),
}


class DerivePayload(BaseModel):
    model_config = ConfigDict(defer_build=True)

    media_id: uuid.UUID


@dataclass(frozen=True)
class Rendered:
    jpeg: bytes
    width: int
    height: int


def dedupe_key(media_id: uuid.UUID, derivation: Derivation) -> str:
    return f"derive:{media_id}:{derivation.value}"


def enqueue_derivatives(s: Session, media: MediaFile) -> list[Created]:
    """Create the derivation jobs a newly ready file needs (images: thumbnail, videos: poster; others: none).

    Runs in the caller's transaction, so the jobs' wake-ups go out only if the file really became ready.
    Derived files never get derivatives of their own.
    """
    if media.derived_from_id is not None or media.kind not in _JOB_BY_KIND:
        return []
    type_, derivation = _JOB_BY_KIND[media.kind]
    return [
        create_job(
            user_id=media.user_id,
            type={THUMBNAIL_TYPE: make_thumbnail, POSTER_TYPE: make_poster}[type_],
            payload={"media_id": str(media.id)},
            name=f"{derivation.value} of {media.original_filename or media.id}"[:200],
            dedupe_key=dedupe_key(media.id, derivation),
            input_media_id=media.id,
            s=s,
        )
    ]


@job_type(THUMBNAIL_TYPE, payload=DerivePayload, internal=True, max_attempts=3, timeout_s=120)
def make_thumbnail(ctx: JobContext, payload: DerivePayload) -> dict[str, Any]:
    return derive(ctx, payload.media_id, Derivation.THUMBNAIL, render_thumbnail)


@job_type(POSTER_TYPE, payload=DerivePayload, internal=True, max_attempts=3, timeout_s=240)
def make_poster(ctx: JobContext, payload: DerivePayload) -> dict[str, Any]:
    return derive(ctx, payload.media_id, Derivation.POSTER, render_poster)


def derive(
    ctx: JobContext,
    media_id: uuid.UUID,
    derivation: Derivation,
    render: Callable[[Path, MediaFile], Rendered],
) -> dict[str, Any]:
    """Make one derived JPEG of `media_id` (once), returning the derived record's id as the job's result."""
    claim = _claim(ctx, media_id, derivation)
    if isinstance(claim, dict):
        return claim
    parent, child = claim
    with tempfile.TemporaryDirectory(prefix="conveyor-derive-") as tmp:
        source = Path(tmp) / "source"
        _download(parent, source)  # streamed to disk: a video never sits in memory
        rendered = render(source, parent)
    aws.client("s3").put_object(
        Bucket=child.bucket, Key=child.key, Body=rendered.jpeg, ContentType="image/jpeg", CacheControl="max-age=86400"
    )
    with session() as s:
        s.execute(
            update(MediaFile)
            .where(MediaFile.id == child.id)
            .values(
                content_type="image/jpeg",
                size_bytes=len(rendered.jpeg),
                checksum_sha256=hashlib.sha256(rendered.jpeg).hexdigest(),
                width=rendered.width,
                height=rendered.height,
                orientation=_orientation(rendered.width, rendered.height),
                is_animated=False,
            )
        )
        set_status(s, child.id, MediaStatus.READY, reason=f"{derivation.value} rendered", only_from=_IN_PROGRESS)
    ctx.log(f"{derivation.value} ready", data={"media_id": str(child.id), "width": rendered.width})
    return {"media_id": str(child.id), "derivation": derivation.value, "created": True}


_IN_PROGRESS = (MediaStatus.REQUESTED, MediaStatus.UPLOADING)


def _claim(
    ctx: JobContext, media_id: uuid.UUID, derivation: Derivation
) -> tuple[MediaFile, MediaFile] | dict[str, Any]:
    """Find or create the derived row under a lock on the parent (so two runs cannot both insert one).

    Returns (parent, derived row to fill), or the job's result when there is nothing to do.
    """
    with session() as s:
        parent = s.scalar(select(MediaFile).where(MediaFile.id == media_id).with_for_update())
        # The owner check guards against a job whose payload names someone else's file.
        if parent is None or (ctx.user_id is not None and parent.user_id != ctx.user_id):
            raise NonRetryable("No such media file.", details={"media_id": str(media_id)})
        if parent.status not in SOURCE_STATUSES:
            return {"skipped": f"source is {parent.status}", "media_id": None}
        existing = s.scalar(
            select(MediaFile).where(
                MediaFile.derived_from_id == parent.id,
                MediaFile.derivation == derivation.value,
                MediaFile.status != MediaStatus.DELETED.value,
            )
        )
        if existing is not None and existing.status not in {x.value for x in _IN_PROGRESS}:
            return {"media_id": str(existing.id), "derivation": derivation.value, "created": False}
        if existing is None:
            existing = _new_derived(s, parent, derivation)
        s.expunge(parent)
        s.expunge(existing)
        return parent, existing


def _new_derived(s: Session, parent: MediaFile, derivation: Derivation) -> MediaFile:
    child_id = uuid.uuid4()
    filename = f"{derivation.value}.jpg"
    child = MediaFile(
        id=child_id,
        user_id=parent.user_id,
        project_id=parent.project_id,
        bucket=parent.bucket,
        key=f"{MEDIA_PREFIX}{parent.user_id}/{child_id}/{filename}",
        region=parent.region,
        original_filename=filename,
        declared_content_type="image/jpeg",
        status=MediaStatus.REQUESTED.value,
        origin=MediaOrigin.GENERATED.value,
        kind=MediaKind.IMAGE.value,
        purpose=derivation.value,
        derived_from_id=parent.id,
        derivation=derivation.value,
        # A derived file lives exactly as long as its parent (the TTL sweep removes both together anyway).
        ttl_seconds=parent.ttl_seconds,
        expires_at=parent.expires_at,
    )
    s.add(child)
    s.flush()
    set_status(s, child_id, MediaStatus.UPLOADING, reason=f"rendering {derivation.value}")
    s.flush()
    s.refresh(child)
    return child


def _download(media: MediaFile, path: Path) -> None:
    try:
        aws.client("s3").download_file(media.bucket, media.key, str(path))
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        if code in {"404", "NoSuchKey", "NotFound"}:
            raise NonRetryable("The source object is gone.", details={"key": media.key}) from exc
        raise


def _orientation(width: int, height: int) -> str:
    return "square" if width == height else ("landscape" if width > height else "portrait")


def _to_jpeg(image: Any, max_px: int) -> Rendered:
    """Bound, flatten (transparency onto white) and encode as JPEG."""
    from PIL import Image

    image.thumbnail((max_px, max_px), Image.Resampling.LANCZOS)
    if image.mode in {"RGBA", "LA"} or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        image = flat
    elif image.mode != "RGB":
        image = image.convert("RGB")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    return Rendered(out.getvalue(), image.width, image.height)


def render_thumbnail(path: Path, media: MediaFile) -> Rendered:
    """A JPEG at most 320 px on its longer side, upright (EXIF orientation applied), first frame of animations."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = get_settings().media_max_image_pixels
    try:
        with Image.open(path) as image:
            image.draft("RGB", (THUMBNAIL_MAX_PX * 2, THUMBNAIL_MAX_PX * 2))  # JPEG: decode at reduced scale
            upright = ImageOps.exif_transpose(image)
            upright.load()
            return _to_jpeg(upright, THUMBNAIL_MAX_PX)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError) as exc:
        raise NonRetryable("The image cannot be read.", details={"media_id": str(media.id), "error": str(exc)}) from exc


def render_poster(path: Path, media: MediaFile) -> Rendered:
    """One decoded frame at ~10% of the video (1 s when the duration is unknown), as a JPEG."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise NonRetryable("The file has no video stream.", details={"media_id": str(media.id)})
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            target = _poster_time(container, media)
            frame = _frame_at(container, stream, target)
            if frame is None:
                raise NonRetryable("No video frame could be decoded.", details={"media_id": str(media.id)})
            return _to_jpeg(frame.to_image(), POSTER_MAX_PX)
    except av.FFmpegError as exc:
        raise NonRetryable("The video cannot be read.", details={"media_id": str(media.id), "error": str(exc)}) from exc


def _poster_time(container: Any, media: MediaFile) -> float:
    """Seconds into the video: 10% of its duration (past fade-ins and black leaders), or 1 s if unknown."""
    import av

    if container.duration:
        return container.duration / av.time_base * 0.1
    if media.duration_ms:
        return media.duration_ms / 1000 * 0.1
    return 1.0


def _frame_at(container: Any, stream: Any, target_s: float) -> Any:
    """The first frame at or after `target_s` (seeking to the keyframe before it), else the last one decoded."""
    import av

    if target_s > 0 and stream.time_base:
        try:
            container.seek(int(Fraction(target_s) / stream.time_base), stream=stream, backward=True)
        except av.FFmpegError:
            container.seek(0)
    last = None
    for count, frame in enumerate(container.decode(stream)):
        last = frame
        if frame.time is None or frame.time >= target_s or count >= MAX_FRAMES_AFTER_SEEK:
            break
    return last
