"""Content items to publish (seed 002's deviations, generalised), their files, publishers, templates and sales."""

# No `from __future__ import annotations` here: SQLAlchemy would then evaluate every `Mapped[...]` string while
# mapping the class, ~10 % of the models' import, which every function pays on each cold start.

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Index, SmallInteger, Text, func, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.db.base import Base, Timestamps, UUIDPk
from shared.db.enums import ItemStatus, MatureLevel, PublisherKind, SaleQueueStatus, TemplateType, UploadMode
from shared.db.models._common import EMPTY_ARRAY, EMPTY_OBJECT, enum_check, fk
from shared.db.models.media import MediaFile


class Publisher(UUIDPk, Timestamps, Base):
    """Where items are published to, and with which credential."""

    __tablename__ = "publishers"

    user_id: Mapped[uuid.UUID] = fk("users.id", "CASCADE")
    kind: Mapped[str]
    name: Mapped[str]
    endpoint_url: Mapped[str | None] = mapped_column(Text)
    credential_id: Mapped[uuid.UUID | None] = fk("credentials.id", "SET NULL")
    settings: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=EMPTY_OBJECT)
    enabled: Mapped[bool] = mapped_column(server_default=text("true"))

    __table_args__ = (
        enum_check("kind", PublisherKind),
        Index(None, "user_id"),
        Index(None, "credential_id", postgresql_where=text("credential_id IS NOT NULL")),
    )


class Item(UUIDPk, Timestamps, Base):
    """A piece of content on its way to a publisher: review → draft → scheduled → uploading → publishing → published.

    Publishing is exactly-once: execution_lock_id/execution_version guard the run, remote_id is unique, and
    post_count_incremented keeps the quota counter from being bumped twice.
    """

    __tablename__ = "items"

    user_id: Mapped[uuid.UUID] = fk("users.id", "CASCADE")
    project_id: Mapped[uuid.UUID | None] = fk("projects.id", "SET NULL")
    automation_id: Mapped[uuid.UUID | None] = fk("automations.id", "SET NULL")
    publisher_id: Mapped[uuid.UUID | None] = fk("publishers.id", "SET NULL")
    status: Mapped[str] = mapped_column(server_default=ItemStatus.DRAFT.value)
    title: Mapped[str]
    description: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=EMPTY_ARRAY)
    category_path: Mapped[str | None]
    collection_ids: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=EMPTY_ARRAY)
    is_mature: Mapped[bool] = mapped_column(server_default=text("false"))
    mature_level: Mapped[str | None]
    allow_comments: Mapped[bool] = mapped_column(server_default=text("true"))
    allow_free_download: Mapped[bool] = mapped_column(server_default=text("false"))
    is_ai_generated: Mapped[bool] = mapped_column(server_default=text("false"))
    no_ai: Mapped[bool] = mapped_column(server_default=text("false"))
    remote_draft_only: Mapped[bool] = mapped_column(server_default=text("false"))
    add_watermark: Mapped[bool] = mapped_column(server_default=text("false"))
    # 0 = original size, 1..8 = the publisher's preset sizes.
    display_resolution: Mapped[int] = mapped_column(SmallInteger, server_default="0")
    upload_mode: Mapped[str] = mapped_column(server_default=UploadMode.SINGLE.value)
    scheduled_at: Mapped[datetime | None]
    jitter_seconds: Mapped[int] = mapped_column(server_default="0")
    actual_publish_at: Mapped[datetime | None]
    published_at: Mapped[datetime | None]
    remote_draft_id: Mapped[str | None]
    remote_id: Mapped[str | None] = mapped_column(unique=True)
    remote_url: Mapped[str | None] = mapped_column(Text)
    error_message: Mapped[str | None] = mapped_column(Text)
    retry_count: Mapped[int] = mapped_column(server_default="0")
    last_retry_at: Mapped[datetime | None]
    execution_lock_id: Mapped[str | None]
    execution_locked_at: Mapped[datetime | None]
    execution_version: Mapped[int] = mapped_column(server_default="0")
    post_count_incremented: Mapped[bool] = mapped_column(server_default=text("false"))

    files: Mapped[list["ItemFile"]] = relationship(
        back_populates="item", order_by="ItemFile.sort_order", lazy="raise", passive_deletes=True
    )

    __table_args__ = (
        enum_check("status", ItemStatus),
        enum_check("mature_level", MatureLevel),
        enum_check("upload_mode", UploadMode),
        CheckConstraint("display_resolution BETWEEN 0 AND 8", name="display_resolution_range"),
        CheckConstraint("jitter_seconds >= 0 AND retry_count >= 0", name="non_negative"),
        Index(None, "user_id", "status"),
        # Due and past-due items (scheduler, recovery).
        Index(None, "status", "actual_publish_at"),
        Index(None, "execution_lock_id", "status"),
        Index(None, "automation_id"),
        Index(None, "project_id", postgresql_where=text("project_id IS NOT NULL")),
        Index(None, "publisher_id", postgresql_where=text("publisher_id IS NOT NULL")),
    )


class ItemFile(UUIDPk, Base):
    """Links an item to its media files in order; sizes, type and S3 location live on media_files."""

    __tablename__ = "item_files"

    item_id: Mapped[uuid.UUID] = fk("items.id", "CASCADE")
    media_id: Mapped[uuid.UUID] = fk("media_files.id", "CASCADE")
    sort_order: Mapped[int] = mapped_column(server_default="0")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())

    item: Mapped[Item] = relationship(back_populates="files", lazy="raise")
    media: Mapped[MediaFile] = relationship(lazy="raise")

    __table_args__ = (
        Index("uq_item_files_item_id_media_id", "item_id", "media_id", unique=True),
        Index(None, "media_id"),
    )


class Template(UUIDPk, Timestamps, Base):
    """Reusable metadata (tag lists, descriptions, comments, note bodies)."""

    __tablename__ = "templates"

    user_id: Mapped[uuid.UUID] = fk("users.id", "CASCADE")
    type: Mapped[str]
    name: Mapped[str]
    content: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=EMPTY_OBJECT)

    __table_args__ = (enum_check("type", TemplateType), Index(None, "user_id", "type"))


class PricePreset(UUIDPk, Timestamps, Base):
    """A price, or a range to draw a random price from, in minor units of `currency`."""

    __tablename__ = "price_presets"

    user_id: Mapped[uuid.UUID] = fk("users.id", "CASCADE")
    name: Mapped[str]
    price_cents: Mapped[int]
    min_price_cents: Mapped[int | None]
    max_price_cents: Mapped[int | None]
    currency: Mapped[str] = mapped_column(server_default="USD")
    description: Mapped[str | None] = mapped_column(Text)
    is_default: Mapped[bool] = mapped_column(server_default=text("false"))
    sort_order: Mapped[int] = mapped_column(server_default="0")

    __table_args__ = (
        CheckConstraint(
            "price_cents >= 0 AND min_price_cents >= 0 AND max_price_cents >= min_price_cents", name="prices"
        ),
        Index(None, "user_id", "sort_order"),
        Index("uq_price_presets_default_per_user", "user_id", unique=True, postgresql_where=text("is_default")),
    )


class SaleQueueEntry(UUIDPk, Timestamps, Base):
    """An item waiting to be put on sale; processed one at a time under a lock (processing_by, locked_at)."""

    __tablename__ = "sale_queue"

    user_id: Mapped[uuid.UUID] = fk("users.id", "CASCADE")
    item_id: Mapped[uuid.UUID] = fk("items.id", "CASCADE", unique=True)
    # RESTRICT: a preset still referenced by queued sales cannot disappear under them.
    price_preset_id: Mapped[uuid.UUID] = fk("price_presets.id", "RESTRICT")
    price_cents: Mapped[int]
    status: Mapped[str] = mapped_column(server_default=SaleQueueStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(server_default="0")
    last_attempt_at: Mapped[datetime | None]
    processing_by: Mapped[str | None]
    locked_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    error_message: Mapped[str | None] = mapped_column(Text)
    error_details: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    screenshot_key: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        enum_check("status", SaleQueueStatus),
        CheckConstraint("price_cents >= 0", name="price_non_negative"),
        Index(None, "user_id", "status"),
        Index(None, "status", "created_at"),
        Index(None, "price_preset_id"),
    )
