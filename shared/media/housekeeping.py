"""Scheduler step: media whose TTL has passed lose their objects (and derived files'), the records stay `deleted`.

Each tick takes at most one batch of the oldest expired records, locked with SKIP LOCKED, so two overlapping
ticks (or a user deleting the same file) never wait on each other or delete twice. Abandoned uploads that never
produced a record change are removed by the bucket's S3 lifecycle rule (infra), not here.

Every record is purged in its own savepoint: an S3 error on one (a persistent AccessDenied, a throttled key) rolls
back that record only, is counted and logged, and the sweep moves on. The record keeps a failure count in
`metadata.purge_failures` and is taken after every record that has not failed, so records that keep failing can
never fill the batch and starve the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError
from sqlalchemy import Integer, func, select, update
from sqlalchemy.orm import Session

from shared.db import session
from shared.db.enums import MediaStatus
from shared.db.models import MediaFile
from shared.media.service import purge

logger = Logger(child=True)

BATCH = 100


@dataclass
class SweepResult:
    deleted: int = 0
    failed: list[str] = field(default_factory=list)  # ids of the records whose purge failed this tick


def sweep_expired_media() -> SweepResult:
    """Purge up to BATCH expired media files (originals and derived), one savepoint per record."""
    result = SweepResult()
    with session() as s:
        failures = func.coalesce(MediaFile.meta["purge_failures"].astext.cast(Integer), 0)
        expired = list(
            s.scalars(
                select(MediaFile)
                .where(
                    MediaFile.expires_at.is_not(None),
                    MediaFile.expires_at < func.now(),
                    MediaFile.status != MediaStatus.DELETED.value,
                )
                .order_by(failures, MediaFile.expires_at)
                .limit(BATCH)
                .with_for_update(skip_locked=True)
            )
        )
        for media in expired:
            if media.status == MediaStatus.DELETED.value:  # purged already as another one's derived file
                continue
            try:
                with s.begin_nested():
                    result.deleted += len(purge(s, media, reason="ttl expired"))
            except (ClientError, BotoCoreError) as exc:
                _count_failure(s, media, exc)
                result.failed.append(str(media.id))
    if result.failed:
        logger.warning("media sweep: some records could not be purged", extra={"failed": len(result.failed)})
    return result


def delete_expired_media() -> int:
    """The scheduler step: how many records were deleted (failures are logged and counted on the records)."""
    return sweep_expired_media().deleted


def _count_failure(s: Session, media: MediaFile, exc: Exception) -> None:
    code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else type(exc).__name__
    s.expire(media)  # the savepoint rolled back: reload what is really stored
    previous = int((media.meta or {}).get("purge_failures", 0))
    s.execute(
        update(MediaFile)
        .where(MediaFile.id == media.id)
        .values(meta={**(media.meta or {}), "purge_failures": previous + 1, "purge_error": str(code)[:100]})
    )
    logger.warning(
        "media purge failed; the sweep goes on",
        extra={"media_id": str(media.id), "error": str(code), "failures": previous + 1},
    )
