"""Price presets and the sale queue (seed 002's PricePreset and SaleQueue, generalised to any publisher).

A preset is a fixed price or a range to draw a random price from, in minor units of its currency; each user has at
most one default preset. When an item is published by an automation that has `auto_add_to_sale_queue` and a
preset, `queue_after_publish` (called in the transaction that marks the item published) queues it once, with a
price drawn from the preset, and creates one `sale.process` job. The job locks the entry (processing_by = the job,
so a retry of the same job may take it back but no other job can), calls the publisher's `sell`, and records the
outcome: completed (with the platform's proof in `screenshot_key`), failed with error details (transient errors
re-raise so the job engine retries with backoff, refusals and declines fail at once, a decline with the
platform's reason) or skipped when there is nothing to sell through.
"""

from __future__ import annotations

import random
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from shared.db import session
from shared.db.enums import SaleQueueStatus
from shared.db.models import Automation, Item, PricePreset, SaleQueueEntry, User
from shared.db.models import Publisher as PublisherRow
from shared.errors import Conflict, InvalidInput, NotFound
from shared.jobs.context import JobContext
from shared.jobs.errors import NonRetryable, RetryableError
from shared.jobs.registry import job_type
from shared.jobs.service import create_job
from shared.publishing.base import ItemSnapshot, PublishRejected, SaleContext, SaleResult, publisher_class
from shared.publishing.service import class_name, get_publisher, instantiate

logger = Logger(child=True)

JOB_TYPE = "sale.process"
MAX_NAME_CHARS = 100
MAX_DESCRIPTION_CHARS = 2000
#: Prices are stored as 32-bit integers; a million in major units is far above any sale this serves.
MAX_PRICE_CENTS = 100_000_000
MAX_PAGE = 100
MAX_ERROR_CHARS = 2000
CURRENCY_PATTERN = r"^[A-Za-z]{3}$"

_SYSTEM_RNG = secrets.SystemRandom()


# --- presets ------------------------------------------------------------------------------------------------------


def compute_price(preset: PricePreset, rng: random.Random | None = None) -> int:
    """The preset's fixed price, or a uniform integer in [min, max] when it has a range (both ends included)."""
    if preset.min_price_cents is not None and preset.max_price_cents is not None:
        return (rng or _SYSTEM_RNG).randint(preset.min_price_cents, preset.max_price_cents)
    return preset.price_cents


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    """Check a preset's complete state (after a PATCH is merged), so no combination of fields slips through."""
    name = (values.get("name") or "").strip()
    if not 1 <= len(name) <= MAX_NAME_CHARS:
        raise InvalidInput(f"A preset name is 1-{MAX_NAME_CHARS} characters.", details={"field": "name"})
    low, high = values.get("min_price_cents"), values.get("max_price_cents")
    if (low is None) != (high is None):
        raise InvalidInput(
            "Give both min_price_cents and max_price_cents for a random price, or neither.",
            code="incomplete_range",
            details={"field": "min_price_cents" if low is None else "max_price_cents"},
        )
    if low is not None and high is not None and low > high:
        raise InvalidInput("min_price_cents exceeds max_price_cents.", code="invalid_range", details={"field": "min"})
    price = values.get("price_cents")
    if price is None:
        if low is None:
            raise InvalidInput("A preset needs price_cents or a range.", details={"field": "price_cents"})
        price = low  # a range preset still has a display price: its lower end
    for field in ("price_cents", "min_price_cents", "max_price_cents"):
        value = price if field == "price_cents" else values.get(field)
        if value is not None and not 0 <= value <= MAX_PRICE_CENTS:
            raise InvalidInput(f"{field} is 0-{MAX_PRICE_CENTS}.", details={"field": field})
    currency = (values.get("currency") or "USD").strip().upper()
    if len(currency) != 3 or not currency.isascii() or not currency.isalpha():
        raise InvalidInput("currency is a 3-letter ISO 4217 code.", details={"field": "currency"})
    description = values.get("description")
    if description is not None and len(description) > MAX_DESCRIPTION_CHARS:
        raise InvalidInput(f"A description is at most {MAX_DESCRIPTION_CHARS} characters.", details={"field": "desc"})
    return {
        **values,
        "name": name,
        "price_cents": price,
        "currency": currency,
        "is_default": bool(values.get("is_default")),
        "sort_order": values.get("sort_order") or 0,
    }


def _lock_user(s: Session, user_id: uuid.UUID) -> None:
    """Serialise default switches per user: two concurrent switches would otherwise hit the partial unique index."""
    s.execute(select(User.id).where(User.id == user_id).with_for_update())


def _clear_default(s: Session, user_id: uuid.UUID, keep: uuid.UUID | None = None) -> None:
    query = update(PricePreset).where(PricePreset.user_id == user_id, PricePreset.is_default)
    if keep is not None:
        query = query.where(PricePreset.id != keep)
    s.execute(query.values(is_default=False))


PRESET_FIELDS = (
    "name",
    "price_cents",
    "min_price_cents",
    "max_price_cents",
    "currency",
    "description",
    "is_default",
    "sort_order",
)


def create_preset(user_id: uuid.UUID, values: Mapping[str, Any]) -> PricePreset:
    """Create a preset; `is_default` takes the default from the user's previous default in the same transaction."""
    clean = _clean({k: values.get(k) for k in PRESET_FIELDS})
    with session() as s:
        if clean["is_default"]:
            _lock_user(s, user_id)
            _clear_default(s, user_id)
        preset = PricePreset(user_id=user_id, **clean)
        s.add(preset)
        s.flush()
        s.refresh(preset)
    return preset


def owned_preset(s: Session, user_id: uuid.UUID, preset_id: uuid.UUID, *, lock: bool = False) -> PricePreset:
    """The caller's preset, or NotFound (another user's id answers the same as a missing one)."""
    query = select(PricePreset).where(PricePreset.id == preset_id, PricePreset.user_id == user_id)
    preset = s.scalar(query.with_for_update() if lock else query)
    if preset is None:
        raise NotFound("No such price preset.")
    return preset


def get_preset(user_id: uuid.UUID, preset_id: uuid.UUID) -> PricePreset:
    with session() as s:
        return owned_preset(s, user_id, preset_id)


def list_presets(user_id: uuid.UUID) -> list[PricePreset]:
    with session() as s:
        query = select(PricePreset).where(PricePreset.user_id == user_id)
        return list(s.scalars(query.order_by(PricePreset.sort_order, PricePreset.created_at, PricePreset.id)))


def update_preset(user_id: uuid.UUID, preset_id: uuid.UUID, changes: Mapping[str, Any]) -> PricePreset:
    """Apply `changes` (only the fields the caller sent); the merged preset is validated as a whole."""
    with session() as s:
        if changes.get("is_default"):
            _lock_user(s, user_id)
        preset = owned_preset(s, user_id, preset_id, lock=True)
        merged = {k: getattr(preset, k) for k in PRESET_FIELDS}
        merged.update({k: v for k, v in changes.items() if k in PRESET_FIELDS})
        if "price_cents" not in changes and ("min_price_cents" in changes or "max_price_cents" in changes):
            merged["price_cents"] = None  # a new range moves the display price to its lower end
            if merged["min_price_cents"] is None:
                merged["price_cents"] = preset.price_cents
        clean = _clean(merged)
        if clean["is_default"] and not preset.is_default:
            _clear_default(s, user_id, keep=preset.id)
            s.flush()
        for key, value in clean.items():
            setattr(preset, key, value)
        s.flush()
        s.refresh(preset)
    return preset


def delete_preset(user_id: uuid.UUID, preset_id: uuid.UUID) -> None:
    """Refused while queued sales still refer to it (they keep the price they were queued with, and its currency)."""
    with session() as s:
        preset = owned_preset(s, user_id, preset_id, lock=True)
        in_use = s.scalar(select(func.count()).where(SaleQueueEntry.price_preset_id == preset.id))
        if in_use:
            raise Conflict(
                "Sale queue entries still use this preset.", code="preset_in_use", details={"entries": in_use}
            )
        s.delete(preset)


# --- queueing -----------------------------------------------------------------------------------------------------


def queue_after_publish(s: Session, item: Item, rng: random.Random | None = None) -> SaleQueueEntry | None:
    """Queue a just-published item for sale when its automation asks for it; call it in the publishing transaction.

    Idempotent: the entry is unique per item (ON CONFLICT DO NOTHING) and only the call that inserts it creates the
    `sale.process` job, so a retried publish never queues twice. Returns the new entry, or None.
    """
    if item.automation_id is None:
        return None
    automation = s.scalar(
        select(Automation).where(Automation.id == item.automation_id, Automation.user_id == item.user_id)
    )
    if automation is None or not automation.auto_add_to_sale_queue or automation.sale_queue_preset_id is None:
        return None
    preset = s.scalar(
        select(PricePreset).where(
            PricePreset.id == automation.sale_queue_preset_id, PricePreset.user_id == item.user_id
        )
    )
    if preset is None:
        return None
    statement = (
        insert(SaleQueueEntry)
        .values(
            user_id=item.user_id,
            item_id=item.id,
            price_preset_id=preset.id,
            price_cents=compute_price(preset, rng),
            status=SaleQueueStatus.PENDING.value,
        )
        .on_conflict_do_nothing(index_elements=["item_id"])
        .returning(SaleQueueEntry.id)
    )
    entry_id = s.scalar(statement)
    if entry_id is None:
        return None
    _create_sale_job(s, item.user_id, entry_id, item.id)
    return s.get(SaleQueueEntry, entry_id)


def _create_sale_job(s: Session, user_id: uuid.UUID, entry_id: uuid.UUID, item_id: uuid.UUID) -> uuid.UUID:
    created = create_job(
        user_id=user_id, type=process_sale, payload={"entry_id": str(entry_id)}, dedupe_key=f"sale:{item_id}", s=s
    )
    return created.job.id


# --- the queue, as the API sees it ------------------------------------------------------------------------------


@dataclass(frozen=True)
class EntryPage:
    items: list[SaleQueueEntry]
    next_offset: int | None


def list_entries(user_id: uuid.UUID, *, status: str | None, limit: int, offset: int) -> EntryPage:
    with session() as s:
        query = select(SaleQueueEntry).where(SaleQueueEntry.user_id == user_id)
        if status is not None:
            query = query.where(SaleQueueEntry.status == status)
        query = query.order_by(SaleQueueEntry.created_at.desc(), SaleQueueEntry.id).offset(offset).limit(limit + 1)
        rows = list(s.scalars(query))
    return EntryPage(rows[:limit], offset + limit if len(rows) > limit else None)


def _owned_entry(s: Session, user_id: uuid.UUID, entry_id: uuid.UUID, *, lock: bool = False) -> SaleQueueEntry:
    query = select(SaleQueueEntry).where(SaleQueueEntry.id == entry_id, SaleQueueEntry.user_id == user_id)
    entry = s.scalar(query.with_for_update() if lock else query)
    if entry is None:
        raise NotFound("No such sale queue entry.")
    return entry


def get_entry(user_id: uuid.UUID, entry_id: uuid.UUID) -> SaleQueueEntry:
    with session() as s:
        return _owned_entry(s, user_id, entry_id)


def retry_entry(user_id: uuid.UUID, entry_id: uuid.UUID) -> SaleQueueEntry:
    """A failed entry goes back to pending with a new job; its attempts keep counting, its last error stays visible."""
    with session() as s:
        entry = _owned_entry(s, user_id, entry_id, lock=True)
        if entry.status != SaleQueueStatus.FAILED.value:
            raise Conflict("Only failed entries can be retried.", code="not_failed", details={"status": entry.status})
        entry.status = SaleQueueStatus.PENDING.value
        entry.processing_by = None
        entry.locked_at = None
        s.flush()
        _create_sale_job(s, user_id, entry.id, entry.item_id)
        s.refresh(entry)
    return entry


def skip_entry(user_id: uuid.UUID, entry_id: uuid.UUID) -> SaleQueueEntry:
    """Take a pending or failed entry out of the queue; a job still holding it finds it skipped and stops."""
    with session() as s:
        entry = _owned_entry(s, user_id, entry_id, lock=True)
        if entry.status not in (SaleQueueStatus.PENDING.value, SaleQueueStatus.FAILED.value):
            raise Conflict(
                "Only pending or failed entries can be skipped.", code="not_skippable", details={"status": entry.status}
            )
        entry.status = SaleQueueStatus.SKIPPED.value
        entry.processing_by = None
        entry.locked_at = None
        s.flush()
        s.refresh(entry)
    return entry


# --- the job ------------------------------------------------------------------------------------------------------


class ProcessSale(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    entry_id: uuid.UUID


def _lock_entry(entry_id: uuid.UUID, holder: str, user_id: uuid.UUID | None) -> SaleQueueEntry | None:
    """Take the entry for this job: pending, or one this same job held before (a retry, or a run after lease loss).

    A job never takes another job's entry, so two jobs for one item (a user's retry racing an old retry) cannot
    both sell it; the loser finds nothing to do. Only the job owner's entry is ever taken: a job naming another
    user's entry finds nothing.
    """
    now = func.now()
    ours = SaleQueueEntry.processing_by == holder
    with session() as s:
        return s.scalar(
            update(SaleQueueEntry)
            .where(
                SaleQueueEntry.id == entry_id,
                SaleQueueEntry.user_id == user_id,
                or_(
                    SaleQueueEntry.status == SaleQueueStatus.PENDING.value,
                    ours & SaleQueueEntry.status.in_([SaleQueueStatus.PROCESSING.value, SaleQueueStatus.FAILED.value]),
                ),
            )
            .values(
                status=SaleQueueStatus.PROCESSING.value,
                processing_by=holder,
                locked_at=now,
                attempts=SaleQueueEntry.attempts + 1,
                last_attempt_at=now,
            )
            .returning(SaleQueueEntry)
        )


def _finish(entry_id: uuid.UUID, holder: str, status: SaleQueueStatus, **values: Any) -> bool:
    """Record the outcome while we still hold the entry (a user may have skipped it meanwhile: then keep theirs)."""
    if status != SaleQueueStatus.FAILED:
        values.setdefault("processing_by", None)
    with session() as s:
        done = s.execute(
            update(SaleQueueEntry)
            .where(
                SaleQueueEntry.id == entry_id,
                SaleQueueEntry.processing_by == holder,
                SaleQueueEntry.status == SaleQueueStatus.PROCESSING.value,
            )
            .values(status=status.value, locked_at=None, **values)
            .returning(SaleQueueEntry.id)
        ).one_or_none()
    return done is not None


def _seller(s: Session, item: Item) -> tuple[PublisherRow | None, str | None]:
    """The item's own publisher when it is enabled, else the user's first enabled one (publishing.service decides)."""
    own = s.get(PublisherRow, item.publisher_id) if item.publisher_id is not None else None
    try:
        row = own if own is not None and own.enabled else get_publisher(s, item.user_id)
    except NotFound:
        return None, "no enabled publisher"
    if publisher_class(class_name(row.kind, row.settings)) is None:
        return None, f"publisher kind {row.kind!r} is not available in this deployment"
    return row, None


def _snapshot(item: Item, entry_id: uuid.UUID, preset: PricePreset | None) -> ItemSnapshot:
    """What the publisher sees; the idempotency key is per queue entry so every retry of this sale sends the same."""
    return ItemSnapshot(
        id=item.id,
        user_id=item.user_id,
        title=item.title,
        description=item.description,
        tags=list(item.tags or []),
        category_path=item.category_path,
        settings={"is_mature": item.is_mature, "remote_url": item.remote_url},
        files=[],
        idempotency_key=f"sale:{entry_id}",
        remote_id=item.remote_id,
        sale=SaleContext(entry_id=entry_id, preset_id=preset.id, preset_name=preset.name) if preset else None,
    )


@job_type(JOB_TYPE, payload=ProcessSale, max_attempts=3, retry_base_ms=30_000, retry_cap_ms=600_000, internal=True)
def process_sale(ctx: JobContext, payload: ProcessSale) -> dict[str, Any]:
    holder = str(ctx.job_id)
    entry = _lock_entry(payload.entry_id, holder, ctx.user_id)
    if entry is None:
        return {"entry_id": str(payload.entry_id), "status": "not_taken", "reason": "not pending or held elsewhere"}
    with session() as s:
        item = s.get(Item, entry.item_id)
        preset = s.get(PricePreset, entry.price_preset_id)
        row, reason = _seller(s, item) if item is not None else (None, "item is gone")
        snapshot = _snapshot(item, entry.id, preset) if item is not None else None
    if row is None or snapshot is None or preset is None:
        _finish(entry.id, holder, SaleQueueStatus.SKIPPED, error_message=reason, error_details={"reason": reason})
        ctx.log("sale skipped", data={"entry_id": str(entry.id), "reason": reason})
        return {"entry_id": str(entry.id), "status": SaleQueueStatus.SKIPPED.value, "reason": reason}

    base = {"attempt": entry.attempts, "publisher_id": str(row.id), "kind": row.kind}
    try:
        result: SaleResult = instantiate(row).sell(snapshot, entry.price_cents, preset.currency)
    except PublishRejected as exc:
        message = (str(exc) or "rejected by the platform")[:MAX_ERROR_CHARS]
        details = {**base, "kind_of_error": "rejected", "exception": type(exc).__name__, "retryable": False}
        _finish(entry.id, holder, SaleQueueStatus.FAILED, error_message=message, error_details=details)
        raise NonRetryable(message, details={"entry_id": str(entry.id)}) from exc
    except RetryableError as exc:
        # A retryable error's message is written for users (an HTTP status, a timeout): record it as it is.
        message = (str(exc) or "the publisher failed; retrying")[:MAX_ERROR_CHARS]
        details = {**base, "kind_of_error": "transient", "exception": type(exc).__name__, "retryable": True}
        _finish(entry.id, holder, SaleQueueStatus.FAILED, error_message=message, error_details=details)
        raise
    except Exception as exc:
        # Exception text may hold SQL, host names or a platform's internals: the log gets it, the entry a class.
        logger.exception("sale attempt failed", entry_id=str(entry.id), attempt=entry.attempts)
        message = f"The publisher failed with an unexpected error ({type(exc).__name__})."
        details = {**base, "kind_of_error": "transient", "exception": type(exc).__name__, "retryable": True}
        _finish(entry.id, holder, SaleQueueStatus.FAILED, error_message=message, error_details=details)
        raise  # the job engine retries with backoff; the next run takes the entry back (processing_by is ours)
    if not result.ok:
        message = (result.reason or "the platform declined the sale")[:MAX_ERROR_CHARS]
        details = {**base, "kind_of_error": "declined", "result": result.details, "retryable": False}
        _finish(entry.id, holder, SaleQueueStatus.FAILED, error_message=message, error_details=details)
        raise NonRetryable(message, details={"entry_id": str(entry.id)})
    _finish(
        entry.id,
        holder,
        SaleQueueStatus.COMPLETED,
        completed_at=datetime.now(UTC),
        error_message=None,
        error_details=None,
        screenshot_key=result.proof_url,
    )
    return {"entry_id": str(entry.id), "status": SaleQueueStatus.COMPLETED.value, "details": result.details}
