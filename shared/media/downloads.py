"""Short-lived download links for media: only for files that passed inspection, only for their owner."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from shared import aws
from shared.db.enums import MediaStatus
from shared.db.models import MediaFile
from shared.db.session import session

DOWNLOAD_TTL_S = 300
SERVABLE = (MediaStatus.READY, MediaStatus.ATTACHED)


def download_url(user_id: uuid.UUID, media_id: uuid.UUID) -> str | None:
    """A presigned GET for the caller's media file, or None when it is not theirs or not servable (quarantined…)."""
    with session() as s:
        media = s.scalar(
            select(MediaFile).where(
                MediaFile.id == media_id,
                MediaFile.user_id == user_id,
                MediaFile.status.in_([str(x) for x in SERVABLE]),
            )
        )
    if media is None:
        return None
    params = {"Bucket": media.bucket, "Key": media.key}
    if media.original_filename:
        safe = media.original_filename.replace('"', "")
        params["ResponseContentDisposition"] = f'attachment; filename="{safe}"'
    return aws.client("s3").generate_presigned_url("get_object", Params=params, ExpiresIn=DOWNLOAD_TTL_S)
