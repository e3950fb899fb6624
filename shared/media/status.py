"""Media status changes, each recorded with its time (and reason) in media_status_events."""

from __future__ import annotations

import uuid

from sqlalchemy import func, update
from sqlalchemy.orm import Session

from shared.db.enums import MediaStatus
from shared.db.models import MediaFile, MediaStatusEvent


def set_status(
    s: Session,
    media_id: uuid.UUID,
    status: MediaStatus,
    *,
    reason: str | None = None,
    only_from: tuple[MediaStatus, ...] | None = None,
) -> bool:
    """Move a media file to `status` (from one of `only_from`, when given); True if it moved.

    The condition is in the UPDATE, so two deliveries of the same S3 event cannot both move the same file.
    """
    statement = update(MediaFile).where(MediaFile.id == media_id)
    if only_from is not None:
        statement = statement.where(MediaFile.status.in_([str(x) for x in only_from]))
    values: dict[str, object] = {"status": status.value, "status_changed_at": func.now()}
    if status == MediaStatus.QUARANTINED:
        values["quarantine_reason"] = reason
    moved = s.execute(statement.values(**values).returning(MediaFile.id)).scalar_one_or_none()
    if moved is None:
        return False
    s.add(MediaStatusEvent(media_id=media_id, status=status.value, reason=reason))
    return True
