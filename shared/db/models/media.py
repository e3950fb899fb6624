"""Media files: one row per S3 object, from the upload request through ingestion to attachment and deletion."""

# No `from __future__ import annotations` here: SQLAlchemy would then evaluate every `Mapped[...]` string while
# mapping the class, ~10 % of the models' import, which every function pays on each cold start.

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Index, Numeric, SmallInteger, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, Timestamps, UUIDPk
from shared.db.enums import (
    AudioCodec,
    Derivation,
    MediaKind,
    MediaOrigin,
    MediaStatus,
    Orientation,
    StreamingFormat,
    VideoCodec,
)
from shared.db.models._common import EMPTY_OBJECT, enum_check, fk


class MediaFile(UUIDPk, Timestamps, Base):
    """What the client declared is kept beside what ingestion detected, so a mismatch can be explained."""

    __tablename__ = "media_files"

    user_id: Mapped[uuid.UUID] = fk("users.id", "CASCADE")
    # Archiving, not deleting, is how projects go away; a purge must not orphan S3 objects silently.
    project_id: Mapped[uuid.UUID | None] = fk("projects.id", "SET NULL")
    bucket: Mapped[str]
    key: Mapped[str] = mapped_column(Text)
    region: Mapped[str]
    original_filename: Mapped[str | None]
    declared_content_type: Mapped[str | None]
    declared_size: Mapped[int | None] = mapped_column(BigInteger)
    content_type: Mapped[str | None]
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    etag: Mapped[str | None]
    checksum_sha256: Mapped[str | None]
    status: Mapped[str] = mapped_column(server_default=MediaStatus.REQUESTED.value)
    status_changed_at: Mapped[datetime] = mapped_column(server_default=func.now())
    quarantine_reason: Mapped[str | None]
    origin: Mapped[str] = mapped_column(server_default=MediaOrigin.UPLOAD.value)
    source_url: Mapped[str | None] = mapped_column(Text)
    # Free-form label set by the caller ("attachment", "avatar", "job_input", ...).
    purpose: Mapped[str | None]
    kind: Mapped[str | None]
    width: Mapped[int | None]
    height: Mapped[int | None]
    duration_ms: Mapped[int | None] = mapped_column(BigInteger)
    frame_rate: Mapped[Decimal | None] = mapped_column(Numeric(9, 3))
    bitrate: Mapped[int | None] = mapped_column(BigInteger)
    orientation: Mapped[str | None]
    is_animated: Mapped[bool | None]
    container: Mapped[str | None]
    video_codec: Mapped[str | None]
    audio_codec: Mapped[str | None]
    streaming_format: Mapped[str | None]
    stream_count: Mapped[int | None] = mapped_column(SmallInteger)
    derived_from_id: Mapped[uuid.UUID | None] = fk("media_files.id", "CASCADE")
    derivation: Mapped[str | None]
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSONB, server_default=EMPTY_OBJECT)
    ttl_seconds: Mapped[int | None]
    expires_at: Mapped[datetime | None]
    # etag/sequencer of the last S3 event applied: duplicate and out-of-order events are recognised and ignored.
    last_event_key: Mapped[str | None]
    attached_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]

    __table_args__ = (
        enum_check("status", MediaStatus),
        enum_check("origin", MediaOrigin),
        enum_check("kind", MediaKind),
        enum_check("orientation", Orientation),
        enum_check("video_codec", VideoCodec),
        enum_check("audio_codec", AudioCodec),
        enum_check("streaming_format", StreamingFormat),
        enum_check("derivation", Derivation),
        CheckConstraint("(derived_from_id IS NULL) = (derivation IS NULL)", name="derivation_pair"),
        CheckConstraint("size_bytes >= 0 AND declared_size >= 0", name="sizes"),
        CheckConstraint("ttl_seconds > 0", name="ttl_positive"),
        Index("uq_media_files_bucket_key", "bucket", "key", unique=True),
        Index(None, "user_id", "created_at"),
        Index(None, "user_id", "project_id"),
        Index(None, "status", "status_changed_at"),
        Index(None, "expires_at", postgresql_where=text("expires_at IS NOT NULL")),
        Index(None, "derived_from_id", postgresql_where=text("derived_from_id IS NOT NULL")),
    )


class MediaStatusEvent(UUIDPk, Base):
    """Append-only history of status changes: when and why a file moved, for support and latency metrics."""

    __tablename__ = "media_status_events"

    media_id: Mapped[uuid.UUID] = fk("media_files.id", "CASCADE")
    status: Mapped[str]
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(server_default=func.now())

    __table_args__ = (enum_check("status", MediaStatus), Index(None, "media_id", "at"))
