"""Content items (seed 002's deviations, generalised): CRUD, ordered files, scheduling, and exactly-once publishing.

Lifecycle: review → draft → scheduled → publishing → published | failed. Every status change is a conditional
UPDATE whose WHERE names the legal source states, so a racing request changes nothing instead of corrupting.

Publishing runs as an `item.publish` job and happens at most once per item, whatever overlaps:
1. claim: `status → publishing` with `execution_lock_id = <job id>` and `execution_version + 1`, only from
   `scheduled` (and due), from `publishing` held by this very job (its own retry), or from a stale lock (older than
   LOCK_STALE and its job no longer active: the job died for good after claiming). No row → someone else owns
   it, or it is published already → return without calling the publisher;
2. call the publisher with `idempotency_key = item:<id>`, the same on every retry and every takeover, so a
   platform that honours it never creates the item twice even if we crashed after it answered;
3. record: `status → published`, remote id/url and `post_count_incremented = true`, only while we still hold
   the lock and the counter was not bumped yet; `remote_id` is UNIQUE as the last guard.
Transient publisher errors raise (the job retries with backoff; the item stays `publishing`, locked by the job,
with retry_count and last_retry_at); a refusal (PublishRejected) or the last attempt fails the item and frees it.

The scheduler step `items.due` starts publish jobs for due items with the dedupe key `publish:<item id>`, so two
overlapping ticks create one job; items more than LATE_AFTER past their time are published late, once, and logged.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ConfigDict
from sqlalchemy import String, and_, cast, delete, exists, func, or_, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared import aws
from shared.db.enums import ACTIVE_JOB_STATUSES, ItemStatus, LogLevel, MatureLevel, MediaStatus, UploadMode
from shared.db.models import Automation, Item, ItemFile, Job, MediaFile
from shared.db.pagination import decode_cursor, encode_cursor
from shared.db.session import session, unit_of_work
from shared.errors import Conflict, InvalidInput, NotFound
from shared.jobs.context import JobContext
from shared.jobs.errors import NonRetryable, RetryableError
from shared.jobs.registry import job_type
from shared.jobs.service import Created, create_job
from shared.media import service as media_service
from shared.projects.service import owned_project
from shared.publishing.base import FileLink, ItemSnapshot, PublishRejected, PublishResult
from shared.publishing.service import get_publisher, instantiate

logger = Logger(child=True)

PUBLISH_TYPE = "item.publish"
PUBLISH_MAX_ATTEMPTS = 5
PUBLISH_RETRY_BASE_MS = 10_000
PUBLISH_RETRY_CAP_MS = 600_000
LOCK_STALE = timedelta(minutes=15)
LATE_AFTER = timedelta(minutes=5)
DUE_BATCH = 100
FILE_URL_TTL_S = 900
MAX_FILES = 100
MAX_JITTER_S = 86_400

S = ItemStatus
#: Fields may change, files may be added or removed.
EDITABLE = (S.REVIEW, S.DRAFT, S.SCHEDULED, S.FAILED)
SCHEDULABLE = (S.DRAFT, S.SCHEDULED, S.FAILED)
#: Busy with a publisher: not deletable.
BUSY = (S.UPLOADING, S.PUBLISHING)
SERVABLE_MEDIA = (MediaStatus.READY.value, MediaStatus.ATTACHED.value)

SETTING_FIELDS = (
    "is_mature",
    "mature_level",
    "allow_comments",
    "allow_free_download",
    "is_ai_generated",
    "no_ai",
    "remote_draft_only",
    "add_watermark",
    "display_resolution",
    "upload_mode",
)
CONTENT_FIELDS = ("title", "description", "tags", "category_path", "collection_ids")
LINK_FIELDS = ("project_id", "publisher_id", "automation_id")
WRITABLE = frozenset(CONTENT_FIELDS + SETTING_FIELDS + LINK_FIELDS)


def _values(states: tuple[ItemStatus, ...]) -> list[str]:
    return [x.value for x in states]


# --- reading --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileView:
    media_id: uuid.UUID
    sort_order: int
    filename: str | None
    content_type: str | None
    status: str
    width: int | None
    height: int | None
    duration_ms: int | None


@dataclass(frozen=True)
class ItemView:
    item: Item
    files: list[FileView]


def _files(s: Session, item_id: uuid.UUID) -> list[tuple[ItemFile, MediaFile]]:
    rows = s.execute(
        select(ItemFile, MediaFile)
        .join(MediaFile, MediaFile.id == ItemFile.media_id)
        .where(ItemFile.item_id == item_id)
        .order_by(ItemFile.sort_order, ItemFile.created_at, ItemFile.id)
    ).all()
    return [(r[0], r[1]) for r in rows]


def _view(s: Session, item: Item) -> ItemView:
    files = [
        FileView(
            media_id=m.id,
            sort_order=f.sort_order,
            filename=m.original_filename,
            content_type=m.content_type or m.declared_content_type,
            status=m.status,
            width=m.width,
            height=m.height,
            duration_ms=m.duration_ms,
        )
        for f, m in _files(s, item.id)
    ]
    return ItemView(item, files)


def _owned(s: Session, user_id: uuid.UUID, item_id: uuid.UUID, *, lock: bool = False) -> Item:
    query = select(Item).where(Item.id == item_id, Item.user_id == user_id).execution_options(populate_existing=True)
    item = s.scalar(query.with_for_update() if lock else query)
    if item is None:
        raise NotFound("No such item.")
    return item


def get_item(user_id: uuid.UUID, item_id: uuid.UUID) -> ItemView:
    with session() as s:
        return _view(s, _owned(s, user_id, item_id))


@dataclass(frozen=True)
class ItemFilter:
    status: ItemStatus | None = None
    automation_id: uuid.UUID | None = None
    project_id: uuid.UUID | None = None


def list_items(
    user_id: uuid.UUID, flt: ItemFilter, *, limit: int, cursor: str | None
) -> tuple[list[ItemView], str | None]:
    """Newest first, keyset-paginated on (created_at, id) so pages stay stable while items are added."""
    query = select(Item).where(Item.user_id == user_id)
    if flt.status:
        query = query.where(Item.status == flt.status.value)
    if flt.automation_id:
        query = query.where(Item.automation_id == flt.automation_id)
    if flt.project_id:
        query = query.where(Item.project_id == flt.project_id)
    if cursor:
        created_at, last_id = decode_cursor(cursor)
        query = query.where(tuple_(Item.created_at, Item.id) < tuple_(created_at, last_id))
    with session() as s:
        rows = list(s.scalars(query.order_by(Item.created_at.desc(), Item.id.desc()).limit(limit + 1)))
        more = len(rows) > limit
        rows = rows[:limit]
        views = [_view(s, row) for row in rows]
    return views, encode_cursor(rows[-1].created_at, rows[-1].id) if more else None


# --- writing --------------------------------------------------------------------------------------------------


def _check_fields(s: Session, user_id: uuid.UUID, fields: dict[str, Any]) -> dict[str, Any]:
    """Only known fields; links must be the caller's; enum-like settings must be known values (422 otherwise)."""
    unknown = set(fields) - WRITABLE
    if unknown:
        raise InvalidInput("Unknown item fields.", details={"fields": sorted(unknown)})
    if "title" in fields and not (isinstance(fields["title"], str) and fields["title"].strip()):
        raise InvalidInput("The title cannot be empty.", details={"field": "title"})
    if fields.get("mature_level") is not None and fields["mature_level"] not in {m.value for m in MatureLevel}:
        raise InvalidInput("Unknown mature_level.", details={"known": [m.value for m in MatureLevel]})
    if "upload_mode" in fields and fields["upload_mode"] not in {m.value for m in UploadMode}:
        raise InvalidInput("Unknown upload_mode.", details={"known": [m.value for m in UploadMode]})
    if fields.get("project_id") is not None:
        owned_project(s, user_id, fields["project_id"])
    if fields.get("publisher_id") is not None:
        get_publisher(s, user_id, fields["publisher_id"])
    if fields.get("automation_id") is not None and (
        s.scalar(select(Automation.id).where(Automation.id == fields["automation_id"], Automation.user_id == user_id))
        is None
    ):
        raise NotFound("No such automation.")
    return {k: v for k, v in fields.items() if not (k in ("upload_mode", "display_resolution") and v is None)}


def create_item(
    user_id: uuid.UUID, fields: dict[str, Any], *, status: ItemStatus = S.DRAFT, s: Session | None = None
) -> ItemView:
    """A new item in `review` (imported, waiting for the user) or `draft`. Automations may pass their session."""
    if status not in (S.REVIEW, S.DRAFT):
        raise InvalidInput("A new item starts in review or draft.", details={"status": status.value})
    with unit_of_work(s) as tx:
        values = _check_fields(tx, user_id, fields)
        item = Item(user_id=user_id, status=status.value, **values)
        tx.add(item)
        tx.flush()
        tx.refresh(item)
        return _view(tx, item)


def _conflict(item: Item, action: str, legal: tuple[ItemStatus, ...]) -> Conflict:
    return Conflict(
        f"An item in {item.status} cannot be {action}.",
        code="item_status_conflict",
        details={"status": item.status, "allowed_from": _values(legal)},
    )


def update_item(user_id: uuid.UUID, item_id: uuid.UUID, fields: dict[str, Any], *, to_draft: bool = False) -> ItemView:
    """Change fields of an item that is not being or already published; `to_draft` accepts a reviewed item."""
    with session() as s:
        values = _check_fields(s, user_id, fields)
        legal = (S.REVIEW,) if to_draft else EDITABLE
        if to_draft:
            values["status"] = S.DRAFT.value
        query = update(Item).where(Item.id == item_id, Item.user_id == user_id, Item.status.in_(_values(legal)))
        if s.execute(query.values(**values, updated_at=func.now())).rowcount == 0:
            item = _owned(s, user_id, item_id)  # NotFound first, then the status conflict
            raise _conflict(item, "changed" if not to_draft else "moved to draft", legal)
        return _view(s, _owned(s, user_id, item_id))


def delete_item(user_id: uuid.UUID, item_id: uuid.UUID) -> None:
    """Not while a publisher is working on it (the result would have nowhere to go)."""
    with session() as s:
        gone = s.execute(
            delete(Item).where(Item.id == item_id, Item.user_id == user_id, Item.status.not_in(_values(BUSY)))
        ).rowcount
        if not gone:
            raise _conflict(_owned(s, user_id, item_id), "deleted", tuple(x for x in S if x not in BUSY))


def add_file(user_id: uuid.UUID, item_id: uuid.UUID, media_id: uuid.UUID, sort_order: int | None = None) -> ItemView:
    """Attach the caller's ready media file to the item at `sort_order` (default: after the last file)."""
    with session() as s:
        item = _owned(s, user_id, item_id, lock=True)  # serialises concurrent adds (order, count)
        if item.status not in _values(EDITABLE):
            raise _conflict(item, "given files", EDITABLE)
        media_service.attach(s, user_id, media_id, item_id=item_id)  # 404 not theirs, 409 not ready
        current = s.execute(
            select(func.count(), func.max(ItemFile.sort_order)).where(ItemFile.item_id == item_id)
        ).one()
        if s.scalar(select(ItemFile.id).where(ItemFile.item_id == item_id, ItemFile.media_id == media_id)):
            raise Conflict("This file is already on the item.", code="file_already_attached")
        if current[0] >= MAX_FILES:
            raise InvalidInput(f"An item has at most {MAX_FILES} files.", code="too_many_files")
        order = sort_order if sort_order is not None else (current[1] + 1 if current[1] is not None else 0)
        s.add(ItemFile(item_id=item_id, media_id=media_id, sort_order=order))
        s.flush()
        return _view(s, item)


def remove_file(user_id: uuid.UUID, item_id: uuid.UUID, media_id: uuid.UUID) -> ItemView:
    with session() as s:
        item = _owned(s, user_id, item_id, lock=True)
        if item.status not in _values(EDITABLE):
            raise _conflict(item, "changed", EDITABLE)
        removed = s.execute(delete(ItemFile).where(ItemFile.item_id == item_id, ItemFile.media_id == media_id))
        if not removed.rowcount:
            raise NotFound("No such file on this item.")
        return _view(s, item)


def _require_files(s: Session, item_id: uuid.UUID) -> None:
    if not s.scalar(select(func.count()).where(ItemFile.item_id == item_id)):
        raise Conflict("Add at least one file before publishing.", code="item_has_no_files")


def _schedule_values(scheduled_at: datetime, jitter_s: int) -> dict[str, Any]:
    return {
        "status": S.SCHEDULED.value,
        "scheduled_at": scheduled_at,
        "jitter_seconds": jitter_s,
        "actual_publish_at": scheduled_at + timedelta(seconds=jitter_s),
        "error_message": None,
        "retry_count": 0,
        "last_retry_at": None,
        "execution_lock_id": None,
        "execution_locked_at": None,
        "updated_at": func.now(),
    }


def schedule_item(
    user_id: uuid.UUID, item_id: uuid.UUID, scheduled_at: datetime, jitter_max_s: int = 0, *, s: Session | None = None
) -> ItemView:
    """draft|scheduled|failed → scheduled at `scheduled_at` plus a random 0..jitter_max_s seconds (seed 002's jitter).

    The drawn offset is stored as `jitter_seconds`, so `actual_publish_at = scheduled_at + jitter_seconds` holds.
    """
    if scheduled_at.tzinfo is None:
        raise InvalidInput("scheduled_at needs a time zone.", details={"field": "scheduled_at"})
    if scheduled_at <= datetime.now(UTC):
        raise InvalidInput("scheduled_at must be in the future.", code="scheduled_at_in_past")
    if not 0 <= jitter_max_s <= MAX_JITTER_S:
        raise InvalidInput(f"jitter_seconds must be 0..{MAX_JITTER_S}.", details={"field": "jitter_seconds"})
    jitter = secrets.randbelow(jitter_max_s + 1) if jitter_max_s else 0
    with unit_of_work(s) as tx:
        _owned(tx, user_id, item_id)
        _require_files(tx, item_id)
        moved = tx.execute(
            update(Item)
            .where(Item.id == item_id, Item.user_id == user_id, Item.status.in_(_values(SCHEDULABLE)))
            .values(**_schedule_values(scheduled_at, jitter))
        ).rowcount
        if not moved:
            raise _conflict(_owned(tx, user_id, item_id), "scheduled", SCHEDULABLE)
        return _view(tx, _owned(tx, user_id, item_id))


def unschedule_item(user_id: uuid.UUID, item_id: uuid.UUID) -> ItemView:
    """scheduled → draft, times cleared. A publish job already queued for it finds nothing to claim."""
    with session() as s:
        moved = s.execute(
            update(Item)
            .where(Item.id == item_id, Item.user_id == user_id, Item.status == S.SCHEDULED.value)
            .values(
                status=S.DRAFT.value,
                scheduled_at=None,
                actual_publish_at=None,
                jitter_seconds=0,
                updated_at=func.now(),
            )
        ).rowcount
        if not moved:
            raise _conflict(_owned(s, user_id, item_id), "unscheduled", (S.SCHEDULED,))
        return _view(s, _owned(s, user_id, item_id))


def publish_now(user_id: uuid.UUID, item_id: uuid.UUID) -> tuple[ItemView, Job]:
    """Schedule for now and start the publish job in the same transaction (one job per item while active)."""
    with session() as s:
        _owned(s, user_id, item_id)
        _require_files(s, item_id)
        now = datetime.now(UTC)
        moved = s.execute(
            update(Item)
            .where(Item.id == item_id, Item.user_id == user_id, Item.status.in_(_values(SCHEDULABLE)))
            .values(**_schedule_values(now, 0))
        ).rowcount
        if not moved:
            raise _conflict(_owned(s, user_id, item_id), "published now", SCHEDULABLE)
        created = _start_publish(s, user_id, item_id, reason="now")
        return _view(s, _owned(s, user_id, item_id)), created.job


# --- the item.publish job -------------------------------------------------------------------------------------


class PublishPayload(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    item_id: uuid.UUID
    reason: Literal["due", "now", "recovery"] = "due"
    #: Set by the scheduler when the item was more than LATE_AFTER past its time (an outage): seconds late.
    late_by_s: int | None = None


def _start_publish(
    s: Session, user_id: uuid.UUID, item_id: uuid.UUID, *, reason: str, late_by_s: int | None = None
) -> Created:
    return create_job(
        user_id=user_id,
        type=PUBLISH,
        payload={"item_id": str(item_id), "reason": reason, "late_by_s": late_by_s},
        dedupe_key=f"publish:{item_id}",
        s=s,
    )


def _lock_is_stale() -> Any:
    """The lock holder's job is no longer active and the lock is old: its run died after claiming."""
    holder_active = exists().where(
        cast(Job.id, String) == Item.execution_lock_id,
        Job.status.in_([str(x) for x in ACTIVE_JOB_STATUSES]),
    )
    return and_(
        Item.status == S.PUBLISHING.value,
        Item.execution_locked_at < func.now() - LOCK_STALE,
        ~holder_active,
    )


def claim(item_id: uuid.UUID, user_id: uuid.UUID | None, lock_id: str) -> int | None:
    """Step 1: take the item for this run; the new execution_version, or None when it is not ours to publish."""
    with session() as s:
        return s.scalar(
            update(Item)
            .where(
                Item.id == item_id,
                Item.user_id == user_id,
                ~Item.post_count_incremented,
                Item.remote_id.is_(None),
                or_(
                    and_(Item.status == S.SCHEDULED.value, Item.actual_publish_at <= func.now()),
                    and_(Item.status == S.PUBLISHING.value, Item.execution_lock_id == lock_id),
                    _lock_is_stale(),
                ),
            )
            .values(
                status=S.PUBLISHING.value,
                execution_lock_id=lock_id,
                execution_locked_at=func.now(),
                execution_version=Item.execution_version + 1,
                updated_at=func.now(),
            )
            .returning(Item.execution_version)
        )


def snapshot(item_id: uuid.UUID) -> tuple[Item, ItemSnapshot]:
    """What the publisher sees: fields, settings, files as 15-minute presigned links, the stable idempotency key."""
    with session() as s:
        item = s.get(Item, item_id)
        if item is None:
            raise NonRetryable("the item no longer exists")
        files = _files(s, item_id)
    links = []
    s3 = aws.client("s3")
    for _, media in files:
        if media.status not in SERVABLE_MEDIA:
            raise PublishRejected(f"file {media.id} is no longer available ({media.status})")
        links.append(
            FileLink(
                media_id=media.id,
                url=s3.generate_presigned_url(
                    "get_object", Params={"Bucket": media.bucket, "Key": media.key}, ExpiresIn=FILE_URL_TTL_S
                ),
                content_type=media.content_type or media.declared_content_type,
                filename=media.original_filename,
                width=media.width,
                height=media.height,
                duration_ms=media.duration_ms,
            )
        )
    if not links:
        raise PublishRejected("the item has no files")
    settings = {name: getattr(item, name) for name in SETTING_FIELDS} | {"collection_ids": list(item.collection_ids)}
    snap = ItemSnapshot(
        id=item.id,
        user_id=item.user_id,
        title=item.title,
        description=item.description,
        tags=list(item.tags),
        category_path=item.category_path,
        settings=settings,
        files=links,
        idempotency_key=f"item:{item.id}",
        remote_id=item.remote_id,
    )
    return item, snap


def _fail(item_id: uuid.UUID, lock_id: str, message: str) -> None:
    """The item failed for good: record why and free it (the user may schedule it again)."""
    with session() as s:
        s.execute(
            update(Item)
            .where(Item.id == item_id, Item.execution_lock_id == lock_id, Item.status == S.PUBLISHING.value)
            .values(
                status=S.FAILED.value,
                error_message=message[:2000],
                execution_lock_id=None,
                execution_locked_at=None,
                updated_at=func.now(),
            )
        )


def _note_retry(item_id: uuid.UUID, lock_id: str, message: str) -> None:
    with session() as s:
        s.execute(
            update(Item)
            .where(Item.id == item_id, Item.execution_lock_id == lock_id, Item.status == S.PUBLISHING.value)
            .values(
                retry_count=Item.retry_count + 1,
                last_retry_at=func.now(),
                error_message=message[:2000],
                updated_at=func.now(),
            )
        )


def _record(item_id: uuid.UUID, lock_id: str, result: PublishResult) -> bool:
    """Step 3: published, once; False when the lock is no longer ours (a stale takeover recorded it instead)."""
    with session() as s:
        done = s.execute(
            update(Item)
            .where(
                Item.id == item_id,
                Item.execution_lock_id == lock_id,
                Item.status == S.PUBLISHING.value,
                ~Item.post_count_incremented,
            )
            .values(
                status=S.PUBLISHED.value,
                remote_id=result.remote_id,
                remote_url=result.remote_url,
                published_at=func.now(),
                post_count_incremented=True,
                error_message=None,
                execution_lock_id=None,
                execution_locked_at=None,
                updated_at=func.now(),
            )
        ).rowcount
        if done:  # same transaction: an automation's sale queue entry exists iff the item is published
            from shared.automations.sales import queue_after_publish

            item = s.get(Item, item_id, populate_existing=True)
            if item is not None:
                queue_after_publish(s, item)
    return bool(done)


def publish_item(ctx: JobContext, payload: PublishPayload) -> dict[str, Any]:
    """The `item.publish` handler: claim, publish (idempotent key), record — see the module docstring."""
    item_id, lock_id = payload.item_id, str(ctx.job_id)
    version = claim(item_id, ctx.user_id, lock_id)
    if version is None:
        with session() as s:
            status = s.scalar(select(Item.status).where(Item.id == item_id, Item.user_id == ctx.user_id))
        ctx.log("nothing to publish: the item is not due, owned by another run, or done", data={"status": status})
        return {"item_id": str(item_id), "skipped": True, "status": status}
    if payload.late_by_s:
        ctx.log(
            f"published late after an outage: {payload.late_by_s} s after its time",
            level=LogLevel.WARNING,
            data={"late_by_s": payload.late_by_s},
        )
    try:
        item, snap = snapshot(item_id)
        row = get_publisher(None, item.user_id, item.publisher_id)
        if not row.enabled:
            raise PublishRejected(f"the item's publisher {row.name!r} is disabled")
        publisher = instantiate(row)
        ctx.heartbeat()  # still ours and not cancelled: only then does anything leave
        result = publisher.publish(snap)
    except (PublishRejected, NonRetryable, NotFound, InvalidInput) as exc:
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        _fail(item_id, lock_id, message)
        ctx.log("publishing failed for good", level=LogLevel.ERROR, data={"error": message[:500]})
        raise NonRetryable(f"publishing refused: {message}") from exc
    except Exception as exc:
        # Exception text may hold SQL, host names or a platform's internals: the log gets it, the item a class.
        logger.exception("publish attempt failed", item_id=str(item_id), attempt=ctx.attempt)
        if isinstance(exc, RetryableError):  # a message written for users (a receiver's status, a timeout)
            message = str(exc)
        else:
            message = f"The publisher failed with an unexpected error ({type(exc).__name__})."
        if ctx.last_attempt:
            _fail(item_id, lock_id, f"gave up after {ctx.attempt} attempts: {message}")
        else:
            _note_retry(item_id, lock_id, message)
        ctx.log("publish attempt failed", level=LogLevel.WARNING, data={"attempt": ctx.attempt, "error": message})
        raise
    try:
        recorded = _record(item_id, lock_id, result)
    except IntegrityError as exc:  # the remote id is already another item's: never two items for one post
        _fail(item_id, lock_id, f"remote id {result.remote_id!r} is already recorded on another item")
        raise NonRetryable("the publisher returned a remote id that another item already has") from exc
    ctx.log(
        "published" if recorded else "published, but the lock was taken over; the other run records it",
        data={"remote_id": result.remote_id, "execution_version": version},
    )
    return {
        "item_id": str(item_id),
        "status": S.PUBLISHED.value if recorded else "lock_lost",
        "remote_id": result.remote_id,
        "remote_url": result.remote_url,
        "execution_version": version,
        "late_by_s": payload.late_by_s,
    }


PUBLISH = job_type(
    PUBLISH_TYPE,
    payload=PublishPayload,
    max_attempts=PUBLISH_MAX_ATTEMPTS,
    retry_base_ms=PUBLISH_RETRY_BASE_MS,
    retry_cap_ms=PUBLISH_RETRY_CAP_MS,
    internal=True,  # started by scheduling and publish-now only
)(publish_item)


# --- the scheduler step ---------------------------------------------------------------------------------------


def start_due_publishing() -> int:
    """Start a publish job for every due item (and every stale publishing lock); returns how many were started.

    The due query is served by the (status, actual_publish_at) index; FOR UPDATE SKIP LOCKED lets an overlapping
    tick pass over rows this one is handling, and the dedupe key makes a late second tick find the same job.
    """
    started = 0
    with session() as s:
        due = s.execute(
            select(Item.id, Item.user_id, Item.actual_publish_at)
            .where(Item.status == S.SCHEDULED.value, Item.actual_publish_at <= func.now())
            .order_by(Item.actual_publish_at)
            .limit(DUE_BATCH)
            .with_for_update(skip_locked=True)
        ).all()
        now = datetime.now(UTC)
        for row in due:
            late = now - row.actual_publish_at
            late_by_s = int(late.total_seconds()) if late > LATE_AFTER else None
            if late_by_s:
                logger.warning("published late after an outage", item_id=str(row.id), late_by_s=late_by_s)
            started += _start_publish(s, row.user_id, row.id, reason="due", late_by_s=late_by_s).created
        stale = s.execute(
            select(Item.id, Item.user_id).where(_lock_is_stale()).limit(DUE_BATCH).with_for_update(skip_locked=True)
        ).all()
        for row in stale:
            logger.warning("taking over a stale publishing lock", item_id=str(row.id))
            started += _start_publish(s, row.user_id, row.id, reason="recovery").created
    return started
