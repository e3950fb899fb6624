"""Scheduler step: media whose TTL has passed lose their objects (and derived files'), the records stay `deleted`.

Each tick takes at most one batch of the oldest expired records, locked with SKIP LOCKED, so two overlapping
ticks (or a user deleting the same file) never wait on each other or delete twice. Abandoned uploads that never
produced a record change are removed by the bucket's S3 lifecycle rule (infra), not here.
"""

from __future__ import annotations

from sqlalchemy import func, select

from shared.db import session
from shared.db.enums import MediaStatus
from shared.db.models import MediaFile
from shared.media.service import purge

BATCH = 100


def delete_expired_media() -> int:
    """Purge up to BATCH expired media files (originals and derived); returns how many records were deleted."""
    with session() as s:
        expired = list(
            s.scalars(
                select(MediaFile)
                .where(
                    MediaFile.expires_at.is_not(None),
                    MediaFile.expires_at < func.now(),
                    MediaFile.status != MediaStatus.DELETED.value,
                )
                .order_by(MediaFile.expires_at)
                .limit(BATCH)
                .with_for_update(skip_locked=True)
            )
        )
        deleted = 0
        for media in expired:
            if media.status != MediaStatus.DELETED.value:  # purged already as another one's derived file
                deleted += len(purge(s, media, reason="ttl expired"))
        return deleted
