"""Media records seen by their owner: list, inspect, delete (objects gone, record kept), attach to a job or item.

Every query is scoped to the caller: another user's id answers NotFound, exactly like an id that does not exist.
Deleting keeps the row (status `deleted`, `deleted_at`) so jobs, items and support can still say what was there.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from botocore.exceptions import ClientError
from sqlalchemy import select, tuple_, update
from sqlalchemy.orm import Session

from shared import aws
from shared.db.enums import MediaKind, MediaStatus
from shared.db.models import Item, Job, MediaFile
from shared.db.pagination import decode_cursor, encode_cursor
from shared.db.session import session, unit_of_work
from shared.errors import Conflict, InvalidInput, NotFound
from shared.media.keys import object_keys
from shared.media.status import set_status

NOT_DELETED = tuple(x for x in MediaStatus if x != MediaStatus.DELETED)


@dataclass(frozen=True)
class MediaFilter:
    project_id: uuid.UUID | None = None
    status: MediaStatus | None = None
    kind: MediaKind | None = None


@dataclass(frozen=True)
class MediaView:
    """A media record with the derived files made from it (thumbnail, poster ...), oldest first."""

    media: MediaFile
    derived: list[MediaFile]


def _owned(s: Session, user_id: uuid.UUID, media_id: uuid.UUID, *, lock: bool = False) -> MediaFile:
    query = select(MediaFile).where(MediaFile.id == media_id, MediaFile.user_id == user_id)
    media = s.scalar(query.with_for_update() if lock else query)
    if media is None:
        raise NotFound("No such media file.")
    return media


def _derived_of(s: Session, parent_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[MediaFile]]:
    """Derived files of many parents in one query (the list endpoint must not do one query per row)."""
    out: dict[uuid.UUID, list[MediaFile]] = defaultdict(list)
    if not parent_ids:
        return out
    rows = s.scalars(
        select(MediaFile).where(MediaFile.derived_from_id.in_(parent_ids)).order_by(MediaFile.created_at, MediaFile.id)
    )
    for row in rows:
        out[row.derived_from_id].append(row)  # type: ignore[index]
    return out


def get_media(user_id: uuid.UUID, media_id: uuid.UUID) -> MediaView:
    with session() as s:
        media = _owned(s, user_id, media_id)
        return MediaView(media, _derived_of(s, [media.id])[media.id])


def list_media(
    user_id: uuid.UUID, flt: MediaFilter, *, limit: int, cursor: str | None
) -> tuple[list[MediaView], str | None]:
    """Newest first, keyset-paginated on (created_at, id).

    Derived files are listed on their parent, not beside it; deleted records only when `status=deleted` is asked
    for (they are kept for history, not for browsing).
    """
    query = select(MediaFile).where(MediaFile.user_id == user_id, MediaFile.derived_from_id.is_(None))
    if flt.status is not None:
        query = query.where(MediaFile.status == flt.status.value)
    else:
        query = query.where(MediaFile.status != MediaStatus.DELETED.value)
    if flt.project_id is not None:
        query = query.where(MediaFile.project_id == flt.project_id)
    if flt.kind is not None:
        query = query.where(MediaFile.kind == flt.kind.value)
    if cursor:
        created_at, last_id = decode_cursor(cursor)
        query = query.where(tuple_(MediaFile.created_at, MediaFile.id) < tuple_(created_at, last_id))
    with session() as s:
        rows = list(s.scalars(query.order_by(MediaFile.created_at.desc(), MediaFile.id.desc()).limit(limit + 1)))
        more = len(rows) > limit
        rows = rows[:limit]
        derived = _derived_of(s, [r.id for r in rows])
    next_cursor = encode_cursor(rows[-1].created_at, rows[-1].id) if more else None
    return [MediaView(r, derived[r.id]) for r in rows], next_cursor


def delete_objects(media: Iterable[MediaFile]) -> None:
    """Remove every S3 object of these records (the served one, the upload it came from, a stored copy an interrupted
    ingestion left); an object that is already gone is fine (deletion is idempotent)."""
    s3 = aws.client("s3")
    for m in media:
        for key in object_keys(m):
            try:
                s3.delete_object(Bucket=m.bucket, Key=key)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in {"NoSuchKey", "404", "NotFound"}:
                    raise


def purge(s: Session, media: MediaFile, *, reason: str) -> list[MediaFile]:
    """Delete a record's object and its derived files' objects, then mark them all `deleted` (rows kept).

    The objects go first, inside the transaction: if S3 fails, nothing is marked and a retry redoes it; if the
    commit fails after S3 succeeded, the records still exist and the next delete (or sweep) finishes the job.
    Returns the records that moved to `deleted`.
    """
    derived = list(
        s.scalars(
            select(MediaFile)
            .where(MediaFile.derived_from_id == media.id, MediaFile.status != MediaStatus.DELETED.value)
            .with_for_update()
        )
    )
    targets = [m for m in (media, *derived) if m.status != MediaStatus.DELETED.value]
    delete_objects(targets)
    moved = [m for m in targets if set_deleted(s, m.id, reason)]
    for m in moved:
        s.refresh(m)
    return moved


def set_deleted(s: Session, media_id: uuid.UUID, reason: str) -> bool:
    if not set_status(s, media_id, MediaStatus.DELETED, reason=reason, only_from=NOT_DELETED):
        return False
    s.execute(update(MediaFile).where(MediaFile.id == media_id).values(deleted_at=datetime.now(UTC)))
    return True


def delete_media(user_id: uuid.UUID, media_id: uuid.UUID) -> MediaView:
    """Delete the caller's file and its derived files; deleting a deleted file again answers the same record."""
    with session() as s:
        media = _owned(s, user_id, media_id, lock=True)
        if media.status != MediaStatus.DELETED.value:
            purge(s, media, reason="deleted by owner")
            s.refresh(media)
        return MediaView(media, _derived_of(s, [media.id])[media.id])


def attach(
    s: Session | None,
    user_id: uuid.UUID,
    media_id: uuid.UUID,
    *,
    job_id: uuid.UUID | None = None,
    item_id: uuid.UUID | None = None,
) -> MediaFile:
    """Mark a ready file as in use by one of the caller's jobs or items (`attached`, with `attached_at`).

    Only a file that passed inspection can be attached (409 `media_not_ready` otherwise). A file already
    attached may be attached to more things; each target is recorded in `metadata.attachments` and in the
    status history. Linking rows (items.item_files, jobs.input_media_id) belong to those areas' services.
    """
    with unit_of_work(s) as tx:
        media = _owned(tx, user_id, media_id, lock=True)  # first: someone else's id is a 404 whatever the body
        if (job_id is None) == (item_id is None):
            raise InvalidInput("Attach to exactly one of job_id or item_id.", details={"fields": ["job_id", "item_id"]})
        if job_id is not None:
            if tx.scalar(select(Job.id).where(Job.id == job_id, Job.user_id == user_id)) is None:
                raise NotFound("No such job.")
            target = {"job_id": str(job_id)}
        else:
            if tx.scalar(select(Item.id).where(Item.id == item_id, Item.user_id == user_id)) is None:
                raise NotFound("No such item.")
            target = {"item_id": str(item_id)}
        if media.status not in {MediaStatus.READY.value, MediaStatus.ATTACHED.value}:
            raise Conflict(
                "Only a file that is ready can be attached.",
                code="media_not_ready",
                details={"status": media.status},
            )
        reason = ", ".join(f"{k}={v}" for k, v in target.items())
        if media.status == MediaStatus.READY.value:
            set_status(tx, media.id, MediaStatus.ATTACHED, reason=reason, only_from=(MediaStatus.READY,))
        attachments = list((media.meta or {}).get("attachments", []))
        if target not in attachments:
            attachments.append(target)
        tx.execute(
            update(MediaFile)
            .where(MediaFile.id == media.id)
            .values(
                meta={**(media.meta or {}), "attachments": attachments},
                attached_at=media.attached_at or datetime.now(UTC),
            )
        )
        tx.refresh(media)
        return media
