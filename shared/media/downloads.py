"""Short-lived download links for media: only for files that passed inspection, only for their owner.

The link names the record's current key, which for an inspected upload is its stored copy (see shared.media.keys):
what was hashed and probed is what is downloaded, whatever was sent to the upload key afterwards.
"""

from __future__ import annotations

import unicodedata
import uuid
from urllib.parse import quote

from sqlalchemy import select

from shared import aws
from shared.db.enums import MediaStatus
from shared.db.models import MediaFile
from shared.db.session import session

DOWNLOAD_TTL_S = 300
SERVABLE = (MediaStatus.READY, MediaStatus.ATTACHED)
#: RFC 5987 attr-char beyond letters, digits and "_.-~" (which `quote` always keeps).
_ATTR_CHARS = "!#$&+^`|"


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
        params["ResponseContentDisposition"] = content_disposition(media.original_filename)
    return aws.client("s3").generate_presigned_url("get_object", Params=params, ExpiresIn=DOWNLOAD_TTL_S)


def content_disposition(filename: str) -> str:
    """`attachment` with the name as RFC 6266 says: an ASCII `filename="…"` for old clients, and the real name as
    `filename*=UTF-8''…` (percent-encoded), which every current browser prefers.

    A header value must be ASCII on the wire (S3 and HTTP servers reject or crash on raw UTF-8), so the fallback
    drops accents (`été` → `ete`) and replaces whatever is left outside printable ASCII, quotes and backslashes.
    """
    decomposed = unicodedata.normalize("NFKD", filename)
    ascii_name = "".join(
        ch if 0x20 <= ord(ch) < 0x7F and ch not in '"\\' else "_" for ch in decomposed if not unicodedata.combining(ch)
    )
    fallback = " ".join(ascii_name.split()) or "download"
    encoded = quote(unicodedata.normalize("NFC", filename), safe=_ATTR_CHARS)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"
