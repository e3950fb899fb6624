"""Where a media file's objects live in the bucket, and which keys a record may own.

- `media/<user>/<media id>/<name>`: the **upload key**, named by exactly one presigned POST (the media id is new
  for every upload request). It is only ever read by ingestion, never served.
- `stored/<user>/<media id>/<name>`: the **stored key**, an immutable copy made by ingestion *before* it reads the
  bytes; what ingestion hashed and probed is what downloads, publishing and derived files read. No POST policy
  names it and no notification watches it.
- `quarantine/<upload key>`: where an upload that failed inspection is kept as evidence.

`media_files.key` always says where the record's object is now (the upload key while it is awaited, then the
stored or the quarantine key); `metadata.upload_key` keeps the upload key once it moved.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

from shared.db.enums import MediaOrigin
from shared.db.models import MediaFile
from shared.resources import MEDIA_PREFIX, QUARANTINE_PREFIX, STORED_PREFIX


def upload_key(user_id: uuid.UUID, media_id: uuid.UUID, filename: str) -> str:
    """`media/<user>/<media id>/<name>`: the id makes every key unique, the user prefix makes IAM scoping easy."""
    return f"{MEDIA_PREFIX}{user_id}/{media_id}/{filename}"


def stored_key(key: str) -> str:
    """The immutable copy of the upload at `key` (same path under the stored prefix)."""
    return STORED_PREFIX + key.removeprefix(MEDIA_PREFIX)


def quarantine_key(key: str) -> str:
    return QUARANTINE_PREFIX + key


def media_id_in(key: str) -> uuid.UUID | None:
    """The media id an upload key names (`media/<user>/<id>/…`), or None. Only a hint for a lookup: the caller
    must check that the record really owns the key, since a key in an S3 event is whatever reached the bucket."""
    if not key.startswith(MEDIA_PREFIX):
        return None
    parts = key[len(MEDIA_PREFIX) :].split("/")
    if len(parts) < 3:
        return None
    try:
        return uuid.UUID(parts[1])
    except ValueError:
        return None


def owns_upload_key(media: MediaFile, key: str) -> bool:
    """Whether `key` is (or was) this record's upload key."""
    meta = media.meta or {}
    return key == media.key or key in (meta.get("upload_key"), meta.get("original_key"))


def object_keys(media: MediaFile) -> Iterator[str]:
    """Every key this record may have an object under: where it is now, where it was uploaded, and the stored copy
    an interrupted ingestion may have left. Deleting a record deletes all of them (a missing key is fine)."""
    meta = media.meta or {}
    seen: set[str] = set()
    upload = meta.get("upload_key") or meta.get("original_key")
    if upload is None and media.key.startswith(MEDIA_PREFIX):
        upload = media.key
    candidates = [media.key, upload]
    if upload and media.origin != MediaOrigin.GENERATED.value:
        candidates.append(stored_key(upload))
    for key in candidates:
        if key and key not in seen:
            seen.add(key)
            yield key
