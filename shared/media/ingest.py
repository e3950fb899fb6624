"""Ingestion: an S3 `ObjectCreated` event in, a media file marked ready or quarantined (with a reason) out.

One event is handled in three short steps so no database transaction stays open while bytes are downloaded:

1. **claim** (one transaction, row locked): find the media row by (bucket, key); decide whether the event is a
   duplicate, out of order, superseded or unexpected; otherwise move the row to `scanning` and remember the
   event's identity (`etag:sequencer`, or `etag:size` where the emulator sends no sequencer).
2. **inspect** (no transaction): stream the object in chunks — never whole in memory — computing size and
   sha256, keeping the first 64 KiB for magic-byte detection and spooling to a temporary file only when a probe
   needs random access (Pillow, FFmpeg); then detect, compare with the declaration, probe.
3. **settle** (one transaction, row locked again): ready (typed columns, metadata, derived work enqueued in the
   same transaction) or quarantined (object moved under `quarantine/`, the row's key follows it).

Infrastructure errors (S3, database) propagate: the SQS record is reported as a batch failure and retried. The row
then sits in `scanning` until its lease (`MEDIA_TIMEOUT_S`) runs out, after which a retry may claim it again; on the
last receive before the dead-letter queue the row is marked `failed`, because nothing will retry it after that.
"""

from __future__ import annotations

import hashlib
import io
import os
import queue
import tempfile
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import IO, Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError
from sqlalchemy import select
from sqlalchemy.orm import Session

from shared import aws
from shared.config import get_settings
from shared.db.enums import MediaKind, MediaOrigin, MediaStatus
from shared.db.models import MediaFile
from shared.db.session import session
from shared.media import detect as detection
from shared.media import keys
from shared.media.events import S3ObjectEvent, parse_s3_notification
from shared.media.probe import Probe, ProbeRejected, probe_av, probe_image, probe_manifest
from shared.media.status import set_status
from shared.resources import MAX_RECEIVES_BEFORE_DLQ, MEDIA_PREFIX, MEDIA_TIMEOUT_S

logger = Logger(child=True)

#: Bytes per read from S3: large enough that per-call overhead vanishes, small enough to keep memory flat.
CHUNK_BYTES = 8 * 1024 * 1024
#: Chunks read ahead of the hashing/spooling (memory: about (PREFETCH_CHUNKS + 2) x CHUNK_BYTES).
PREFETCH_CHUNKS = 2
#: Objects up to this size are spooled to /tmp for probing; larger ones are probed through ranged GETs instead
#: (Lambda's /tmp is 512 MB by default, and writing a large spool costs more than the few ranges a probe reads).
SPOOL_MAX_BYTES = 256 * 1024 * 1024
#: Bytes fetched per ranged GET when probing a large object.
RANGE_BLOCK_BYTES = 1024 * 1024
#: Manifests are probed from memory; a playlist larger than this is summarised from its first part only.
MANIFEST_BYTES = 1024 * 1024
#: S3's limit for a single CopyObject; larger objects are copied in parts.
_COPY_OBJECT_LIMIT = 5 * 1024**3
QUARANTINE_TAG = "conveyor-quarantine-reason"

_MANIFESTS = ("application/vnd.apple.mpegurl", "application/dash+xml")
_CLAIMABLE = (MediaStatus.REQUESTED, MediaStatus.UPLOADING, MediaStatus.STORED, MediaStatus.FAILED)
_FINAL = (MediaStatus.READY, MediaStatus.QUARANTINED, MediaStatus.ATTACHED, MediaStatus.DELETED)
#: Error codes meaning "that object (version) is not there any more": deleted, or replaced since the event.
_GONE = ("NoSuchKey", "404", "PreconditionFailed", "412")


class QuarantineReason(StrEnum):
    """Why an object was taken out of the served prefix (stored in media_files.quarantine_reason and as a tag)."""

    TYPE_MISMATCH = "type_mismatch"  # the bytes are not what the client declared
    NOT_ALLOWED = "not_allowed"  # the bytes are a type this instance does not accept (or no known type)
    TOO_LARGE = "too_large"  # larger than CONVEYOR_MEDIA_MAX_BYTES
    UNREADABLE = "unreadable"  # the decoder failed: corrupt or truncated
    DECOMPRESSION_BOMB = "decompression_bomb"  # an image announcing more pixels than CONVEYOR_MEDIA_MAX_IMAGE_PIXELS
    SIZE_MISMATCH = "size_mismatch"  # the object's size is not the size the client declared
    UNEXPECTED_KEY = "unexpected_key"  # no media record expects this key (tag only: there is no row)
    SECOND_UPLOAD = "second_upload"  # a POST policy reused after its upload settled (tag only: the row is unchanged)


class Outcome(StrEnum):
    """What one S3 event led to (returned for tests and logs; the handler only cares whether it raised)."""

    READY = "ready"
    QUARANTINED = "quarantined"
    UNEXPECTED_KEY = "unexpected_key"
    DUPLICATE = "duplicate"
    OUT_OF_ORDER = "out_of_order"
    SUPERSEDED = "superseded"  # the object changed or vanished after the event: a newer event will follow
    IGNORED = "ignored"  # not our bucket, not under the media prefix, or a generated (derived) file
    REFUSED = "refused"  # a second object for a record that already has one: moved aside, nothing served changes


class IngestBusy(RuntimeError):
    """Another invocation holds a fresh claim on this file: retry after the visibility timeout."""


@dataclass
class _Claim:
    media_id: uuid.UUID
    declared_type: str | None
    declared_size: int | None
    identity: str


@dataclass
class _Download:
    size: int
    sha256: str
    head: bytes
    detected: str | None
    text: bytes | None  # manifests: the first MANIFEST_BYTES
    first: bytes = b""  # the first RANGE_BLOCK_BYTES, and the last: what a probe of a large object reads most
    last: bytes = b""


def handle_notification(body: str, *, receive_count: int = 1) -> list[Outcome]:
    """Ingest every `ObjectCreated` record of one SQS message body (test events and other kinds yield nothing)."""
    return [ingest_object(event, receive_count=receive_count) for event in parse_s3_notification(body)]


def event_identity(event: S3ObjectEvent) -> str:
    """Same object version + same S3 event = same identity; the emulator has no sequencer, so size stands in."""
    return f"{_etag(event.etag)}:{event.sequencer or event.size}"


def ingest_object(event: S3ObjectEvent, *, receive_count: int = 1) -> Outcome:
    settings = get_settings()
    log = {"bucket": event.bucket, "key": event.key, "etag": event.etag, "sequencer": event.sequencer}
    if event.bucket != settings.media_bucket or not event.key.startswith(MEDIA_PREFIX):
        # A misrouted notification: nothing we could do on a retry would change it, so it is not a failure.
        logger.warning("s3 event outside the media prefix ignored", extra=log)
        return Outcome.IGNORED
    claim = _claim(event)
    if not isinstance(claim, _Claim):
        logger.info("s3 event not processed", extra={**log, "outcome": claim.value})
        return claim
    try:
        outcome = _inspect(event, claim)
    except Exception as exc:
        if receive_count >= MAX_RECEIVES_BEFORE_DLQ:
            _give_up(claim, exc)
        raise
    logger.info("media ingested", extra={**log, "media_id": str(claim.media_id), "outcome": outcome.value})
    return outcome


# --- 1. claim -----------------------------------------------------------------------------------------------------


def _claim(event: S3ObjectEvent) -> _Claim | Outcome:
    identity = event_identity(event)
    etag = _etag(event.etag)
    with session() as s:
        row = _find(s, event.bucket, event.key)
        if row is None:
            after = _After.UNEXPECTED
        elif row.key != event.key:
            # The record settled and its object moved (stored or quarantine key): this event cannot change it.
            after = _settled_elsewhere(row, identity, event.sequencer)
            if after is _After.NOTHING:
                return Outcome.OUT_OF_ORDER
        else:
            verdict = _skip_reason(row, etag, identity, event.sequencer)
            if verdict is not None:
                return verdict
            claimable = _CLAIMABLE + ((MediaStatus.SCANNING,) if row.status == MediaStatus.SCANNING else ())
            if not set_status(s, row.id, MediaStatus.SCANNING, reason=f"s3 event {identity}", only_from=claimable):
                raise IngestBusy(f"media {row.id} changed while being claimed")
            row.last_event_key = identity
            if event.sequencer:
                row.meta = {**(row.meta or {}), "s3_sequencer": event.sequencer}
            return _Claim(
                media_id=row.id,
                declared_type=row.declared_content_type,
                declared_size=row.declared_size,
                identity=identity,
            )
        media_id, current_key = (row.id, row.key) if row is not None else (None, None)
    if after is _After.LEFTOVER:
        # An earlier delivery of this very event settled the file and committed, then failed to delete the upload
        # (or, for a quarantined file, the stored copy): finish that, never touching the record's own object.
        for key in (event.key, keys.stored_key(event.key)):
            if key != current_key:
                _delete(event.bucket, key)
        return Outcome.DUPLICATE
    if after is _After.REFUSE:
        return _refuse_second_upload(event, media_id)
    return _quarantine_unexpected(event)


class _After(StrEnum):
    """What to do with an object once the claim transaction is over (S3 calls never run inside it)."""

    NOTHING = "nothing"
    LEFTOVER = "leftover"  # the settled upload's own object, left behind by an interrupted delivery: delete it
    REFUSE = "refuse"  # a second object for a record that already has one: move it aside, serve nothing new
    UNEXPECTED = "unexpected"  # no record owns the key


def _find(s: Session, bucket: str, key: str) -> MediaFile | None:
    """The record that owns `key`, locked: by its current key (awaited uploads), else — once its object moved to
    the stored or quarantine key — the record the key's media id names, if that record was uploaded to `key`."""
    row = s.scalar(_by_key(bucket, key).with_for_update())
    if row is not None:
        return row
    media_id = keys.media_id_in(key)
    if media_id is None:
        return None
    row = s.get(MediaFile, media_id, with_for_update=True)
    if row is None or row.bucket != bucket or not keys.owns_upload_key(row, key):
        return None
    return row


def _settled_elsewhere(row: MediaFile, identity: str, sequencer: str | None) -> _After:
    """An event for the upload key of a record whose object already moved: a redelivery, a late older event, or a
    second upload through the same POST policy (reused within its validity) — which is refused, never served."""
    if row.last_event_key == identity:
        return _After.LEFTOVER
    stored_sequencer = (row.meta or {}).get("s3_sequencer")
    if sequencer and stored_sequencer and _sequencer_key(sequencer) < _sequencer_key(stored_sequencer):
        return _After.NOTHING
    return _After.REFUSE


def _skip_reason(row: MediaFile, etag: str, identity: str, sequencer: str | None) -> Outcome | None:
    """Why this event must not be processed for this row, or None to process it. Runs with the row locked."""
    if row.origin == MediaOrigin.GENERATED.value:
        # Derived files are written (and hashed) by their job, under a key no POST policy names.
        return Outcome.IGNORED
    if row.last_event_key == identity:
        return Outcome.DUPLICATE
    stored_sequencer = (row.meta or {}).get("s3_sequencer")
    if sequencer and stored_sequencer and _sequencer_key(sequencer) < _sequencer_key(stored_sequencer):
        return Outcome.OUT_OF_ORDER
    if row.status in _FINAL:
        if row.etag and row.etag != etag:
            # Only records settled before uploads were copied to a stored key still have their object under the
            # upload key; their POST policies expired long ago. Logged loudly so it can be investigated.
            logger.warning("settled media object replaced; event ignored", extra={"media_id": str(row.id)})
        return Outcome.DUPLICATE
    if row.status == MediaStatus.SCANNING:
        lease_end = row.status_changed_at + timedelta(seconds=MEDIA_TIMEOUT_S)
        if lease_end > datetime.now(UTC):
            raise IngestBusy(f"media {row.id} is being scanned by another invocation")
    elif row.status not in _CLAIMABLE:
        return Outcome.DUPLICATE
    return None


def _sequencer_key(sequencer: str) -> str:
    """S3 sequencers are hex strings of varying length: compare them right-aligned (S3's documented rule)."""
    return sequencer.upper().rjust(32, "0")


# --- 2. inspect ---------------------------------------------------------------------------------------------------


def _inspect(event: S3ObjectEvent, claim: _Claim) -> Outcome:
    """Check the upload's size, copy it to its stored key, then read, hash and probe **the copy**.

    The copy comes first so that what is hashed and probed is exactly what will be served: nothing can write the
    stored key afterwards (a reused POST policy can only replace the upload key, and that is refused by `_claim`).
    """
    s3 = aws.client("s3")
    etag = _etag(event.etag)
    try:
        head = s3.head_object(Bucket=event.bucket, Key=event.key, **({"IfMatch": f'"{etag}"'} if etag else {}))
    except ClientError as exc:
        if _error_code(exc) in _GONE:
            # Deleted or overwritten since the event: the newer event (or the deletion) decides, not this one.
            _release(claim)
            return Outcome.SUPERSEDED
        raise
    length = int(head.get("ContentLength", event.size))
    upload_etag = _etag(head.get("ETag")) or etag
    rejected = _size_verdict(length, claim.declared_size)
    if rejected is not None:  # decided from the length alone: nothing is copied or read
        return _quarantine(event, claim, *rejected, source=event.key, etag=upload_etag, size=length)
    stored = keys.stored_key(event.key)
    try:
        object_etag = _copy(event.bucket, event.key, stored, etag=upload_etag, size=length)
        response = s3.get_object(Bucket=event.bucket, Key=stored, IfMatch=f'"{object_etag}"')
    except ClientError as exc:
        if _error_code(exc) in _GONE:
            _release(claim)
            return Outcome.SUPERSEDED
        raise
    body = response["Body"]
    length = int(response.get("ContentLength", length))
    with ExitStack() as stack:
        stack.callback(body.close)
        spool: IO[bytes] | None = None

        def open_spool() -> IO[bytes] | None:
            if length > SPOOL_MAX_BYTES:
                return None  # probed through ranged GETs instead
            spool = stack.enter_context(tempfile.NamedTemporaryFile(prefix="conveyor-ingest-", suffix=".bin"))
            # Reserve the space up front: a full /tmp fails now, not after the download, and the file system
            # allocates one extent instead of growing the file chunk by chunk (measured: the spool write was the
            # slowest step of ingesting large files).
            with suppress(OSError):
                os.posix_fallocate(spool.fileno(), 0, max(length, 1))
            return spool

        download, spool = _stream(body, claim.declared_type, open_spool)
        verdict = _size_verdict(download.size, claim.declared_size) or _verdict(download, claim.declared_type)
        if verdict is not None:
            return _quarantine(event, claim, *verdict, source=stored, etag=object_etag, download=download)
        assert download.detected is not None
        try:
            source = spool or S3RangeReader(
                event.bucket, stored, object_etag, download.size, known=(download.first, download.last)
            )
            probe = _probe(download, source)
        except ProbeRejected as rejected:
            reason, detail = QuarantineReason(rejected.reason), rejected.detail
            return _quarantine(event, claim, reason, detail, source=stored, etag=object_etag, download=download)
    outcome = _ready(claim, download, probe, object_etag, stored_key=stored, upload_key=event.key)
    if outcome is Outcome.READY:
        _delete(event.bucket, event.key)  # after the commit: a failure here leaves a leftover a redelivery deletes
    return outcome


def _size_verdict(size: int, declared: int | None) -> tuple[QuarantineReason, str] | None:
    """Too large for this instance, or not the size the client declared (and the POST policy pinned)."""
    limit = get_settings().media_max_bytes
    if size > limit:
        return QuarantineReason.TOO_LARGE, f"{size} > {limit} bytes"
    if declared is not None and size != declared:
        return QuarantineReason.SIZE_MISMATCH, f"declared {declared} bytes, received {size}"
    return None


class _Sink:
    """Where chunks go once hashed: the spool file (written on a helper thread, one chunk behind the hashing, so
    disk and CPU work overlap) and/or the first MANIFEST_BYTES of a manifest."""

    def __init__(self) -> None:
        self.spool: IO[bytes] | None = None
        self.text: bytearray | None = None
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-spool")
        self._writing: Future[int] | None = None
        self.previous: bytes | bytearray = b""
        self.latest: bytes | bytearray = b""

    def tail(self) -> bytes:
        if len(self.latest) >= RANGE_BLOCK_BYTES:
            return bytes(self.latest[-RANGE_BLOCK_BYTES:])
        return bytes(self.previous[-(RANGE_BLOCK_BYTES - len(self.latest)) :]) + bytes(self.latest)

    def keep(self, data: bytes | bytearray) -> None:
        self.previous, self.latest = self.latest, data  # references only: no copy
        if self.spool is not None:
            self._wait()
            self._writing = self._writer.submit(self.spool.write, data)
        if self.text is not None and len(self.text) < MANIFEST_BYTES:
            self.text.extend(data[: MANIFEST_BYTES - len(self.text)])

    def finish(self) -> None:
        self._wait()
        if self.spool is not None:
            self.spool.flush()

    def close(self) -> None:
        self._writer.shutdown(wait=True)

    def _wait(self) -> None:
        if self._writing is not None:
            self._writing.result()
            self._writing = None


def _stream(body: Any, declared: str | None, open_spool: Any) -> tuple[_Download, IO[bytes] | None]:
    """One pass over the object: hash and count every byte, keep the head, spool only if a probe will need it.

    Until the first HEAD_BYTES have arrived nothing is known, so those bytes wait in `pending` (at most one chunk);
    after that every chunk is hashed, handed to the sink, and dropped.
    """
    digest = hashlib.sha256()
    size = 0
    pending = bytearray()
    head: bytes | None = None
    first = b""
    detected: str | None = None
    sink = _Sink()

    def decide() -> None:
        nonlocal head, detected, first
        head = bytes(pending[: detection.HEAD_BYTES])
        first = bytes(pending[:RANGE_BLOCK_BYTES])
        detected = detection.detect(head)
        plan = _plan(detected, declared)
        if plan == "spool":
            sink.spool = open_spool()
        elif plan == "text":
            sink.text = bytearray()
        sink.keep(pending)

    try:
        for chunk in _prefetched(body):
            digest.update(chunk)
            size += len(chunk)
            if head is not None:
                sink.keep(chunk)
                continue
            pending += chunk
            if len(pending) >= detection.HEAD_BYTES:
                decide()
                pending = bytearray()
        if head is None:  # the whole object is shorter than the head
            decide()
        sink.finish()
    finally:
        sink.close()
    text = bytes(sink.text) if sink.text is not None else None
    digest_hex, last = digest.hexdigest(), sink.tail()
    download = _Download(size, digest_hex, head or b"", detected, text, first=first, last=last)
    return download, sink.spool


def _prefetched(body: Any) -> Iterator[bytes]:
    """The object's chunks, read by a helper thread up to PREFETCH_CHUNKS ahead.

    Reading the socket, hashing and writing the spool file all release the GIL, so with the read running ahead the
    network and the CPU work overlap instead of taking turns; memory stays bounded by the queue.
    """
    chunks: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=PREFETCH_CHUNKS)
    stop = threading.Event()

    def put(item: bytes | BaseException | None) -> bool:
        while not stop.is_set():
            try:
                chunks.put(item, timeout=0.2)
            except queue.Full:
                continue
            return True
        return False

    def pump() -> None:
        try:
            while chunk := body.read(CHUNK_BYTES):
                if not put(chunk):
                    return
            put(None)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            put(exc)

    reader = threading.Thread(target=pump, name="ingest-prefetch", daemon=True)
    reader.start()
    try:
        while (item := chunks.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        reader.join(timeout=5)


def _plan(detected: str | None, declared: str | None) -> str:
    """How much of the object a probe will need: a seekable copy (media), the text (manifests), or nothing."""
    if detected is None or _verdict_for(detected, declared) is not None:
        return "hash"
    if detected in _MANIFESTS:
        return "text"
    if detected.split("/", 1)[0] in ("image", "video", "audio"):
        return "spool"
    return "hash"


def _verdict(download: _Download, declared: str | None) -> tuple[QuarantineReason, str] | None:
    if download.detected is None:
        return QuarantineReason.NOT_ALLOWED, "content type not recognised from its bytes"
    return _verdict_for(download.detected, declared)


def _verdict_for(detected: str, declared: str | None) -> tuple[QuarantineReason, str] | None:
    """Mismatch is checked first: a file lying about its type is the more specific (and more suspicious) finding."""
    if not detection.same_family(declared, detected):
        return QuarantineReason.TYPE_MISMATCH, f"declared {detection.normalize(declared)}, detected {detected}"
    allowed = {detection.normalize(t) for t in get_settings().media_allowed_types}
    if detected not in allowed:
        return QuarantineReason.NOT_ALLOWED, f"{detected} is not an allowed type"
    return None


def _probe(download: _Download, source: IO[bytes]) -> Probe:
    detected = download.detected or ""
    if detected in _MANIFESTS:
        return probe_manifest(download.text or b"", detected)
    top = detected.split("/", 1)[0]
    if top in ("image", "video", "audio"):
        spooled = not isinstance(source, S3RangeReader)
        target: str | IO[bytes] = source.name if spooled else source
        if top == "image":
            return probe_image(target, max_pixels=get_settings().media_max_image_pixels)
        # A spooled file is demuxed to the end (cheap, local); a large object is sampled at its start and its end
        # instead of being downloaded a second time.
        return probe_av(target, expect_video=top == "video", full_scan=spooled)
    return Probe(kind=MediaKind.DOCUMENT if detected == "application/pdf" else MediaKind.OTHER)


class S3RangeReader(io.RawIOBase):
    """A read-only, seekable view of one S3 object version (ranged GETs with If-Match), for decoders that need to
    seek: the probe reads the few regions it needs (headers, index, a few packets) instead of a full local copy."""

    def __init__(self, bucket: str, key: str, etag: str, size: int, *, known: tuple[bytes, bytes] = (b"", b"")) -> None:
        """`known`: the first and last bytes of the object, kept while it was streamed — the regions containers
        keep their headers and indexes in — so most probes need no GET at all."""
        super().__init__()
        self.bucket, self.key, self.etag, self.size = bucket, key, etag, size
        self.name = f"s3://{bucket}/{key}"
        self._pos = 0
        first, last = known
        self._known = [(0, first), (size - len(last), last)]
        self._block_start = 0
        self._block = first

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._pos >= self.size or not len(view):
            return 0
        offset = self._pos - self._block_start
        if not 0 <= offset < len(self._block):
            for start, block in self._known:
                if start <= self._pos < start + len(block):
                    self._block_start, self._block = start, block
                    break
            else:
                self._fetch(self._pos, max(len(view), RANGE_BLOCK_BYTES))
            offset = self._pos - self._block_start
        n = min(len(view), len(self._block) - offset)
        view[:n] = self._block[offset : offset + n]
        self._pos += n
        return n

    fetches = 0

    def _fetch(self, start: int, length: int) -> None:
        self.fetches += 1
        end = min(self.size, start + length) - 1
        response = aws.client("s3").get_object(
            Bucket=self.bucket, Key=self.key, Range=f"bytes={start}-{end}", IfMatch=f'"{self.etag}"'
        )
        self._block_start, self._block = start, response["Body"].read()


# --- 3. settle ----------------------------------------------------------------------------------------------------


def _ready(claim: _Claim, download: _Download, probe: Probe, etag: str, *, stored_key: str, upload_key: str) -> Outcome:
    try:
        from shared.media.derived import enqueue_derivatives
    except ImportError:  # the derived-files module ships separately; ingestion must not depend on it being there
        enqueue_derivatives = None

    with session() as s:
        row = _locked_claim(s, claim)
        if row is None:
            return Outcome.SUPERSEDED
        row.key = stored_key  # from now on every reader (downloads, publishing, derived files) gets the copy
        row.kind = probe.kind.value
        row.content_type = download.detected
        row.size_bytes = download.size
        row.etag = etag
        row.checksum_sha256 = download.sha256
        row.container = probe.container
        row.width = probe.width
        row.height = probe.height
        row.orientation = probe.orientation.value if probe.orientation else None
        row.is_animated = probe.is_animated
        row.duration_ms = probe.duration_ms
        row.frame_rate = probe.frame_rate
        row.bitrate = probe.bitrate
        row.video_codec = probe.video_codec.value if probe.video_codec else None
        row.audio_codec = probe.audio_codec.value if probe.audio_codec else None
        row.streaming_format = probe.streaming_format.value if probe.streaming_format else None
        row.stream_count = probe.stream_count
        row.meta = {**(row.meta or {}), **_jsonable(probe.meta), "upload_key": upload_key}
        s.flush()
        set_status(s, row.id, MediaStatus.READY, only_from=(MediaStatus.SCANNING,))
        s.expire(row, ["status", "status_changed_at"])
        if enqueue_derivatives is not None:
            enqueue_derivatives(s, row)
    return Outcome.READY


def _quarantine(
    event: S3ObjectEvent,
    claim: _Claim,
    reason: QuarantineReason,
    detail: str,
    *,
    source: str,
    etag: str,
    download: _Download | None = None,
    size: int | None = None,
) -> Outcome:
    """Copy out of the served prefixes (tagged), record it, then delete the originals — in that order, so a crash at
    any point leaves either a retry-able claim or a settled row whose leftover objects the next delivery deletes.

    `source` is the object that was judged: the upload itself (size checks) or its stored copy (everything else).
    """
    size = download.size if download is not None else size if size is not None else event.size
    target = keys.quarantine_key(event.key)
    _copy_tagged(event.bucket, source, target, reason, size=size)
    with session() as s:
        row = _locked_claim(s, claim)
        if row is None:
            return Outcome.SUPERSEDED
        row.key = target
        row.etag = etag
        row.size_bytes = size
        if download is not None:
            row.checksum_sha256 = download.sha256
            row.content_type = download.detected
        notes = _declared_notes(row, size)
        row.meta = {
            **(row.meta or {}),
            **notes,
            "original_key": event.key,
            "upload_key": event.key,
            "quarantine_detail": detail[:500],
        }
        s.flush()
        set_status(s, row.id, MediaStatus.QUARANTINED, reason=reason.value, only_from=(MediaStatus.SCANNING,))
    for key in dict.fromkeys((source, event.key)):
        _delete(event.bucket, key)
    logger.warning(
        "media quarantined",
        extra={"media_id": str(claim.media_id), "reason": reason.value, "detail": detail[:500], "key": event.key},
    )
    return Outcome.QUARANTINED


def _refuse_second_upload(event: S3ObjectEvent, media_id: uuid.UUID | None) -> Outcome:
    """A POST policy used again after its upload settled: the new object is moved aside (tagged, kept as evidence
    under a key of its own) and deleted from the upload key. The record and what it serves do not change."""
    etag = _etag(event.etag) or "unknown"
    target = f"{keys.quarantine_key(event.key)}.{etag}.second-upload"
    try:
        _copy_tagged(event.bucket, event.key, target, QuarantineReason.SECOND_UPLOAD, size=event.size)
    except ClientError as exc:
        if _error_code(exc) in _GONE:
            return Outcome.REFUSED  # an earlier delivery already moved it (or it was deleted)
        raise
    _delete(event.bucket, event.key)
    logger.warning(
        "second upload to a settled media record refused",
        extra={"media_id": str(media_id), "key": event.key, "etag": etag, "to": target},
    )
    return Outcome.REFUSED


def _quarantine_unexpected(event: S3ObjectEvent) -> Outcome:
    """No row expects this key: nobody asked for this upload, so it is moved aside (not deleted: evidence)."""
    target = keys.quarantine_key(event.key)
    try:
        _copy_tagged(event.bucket, event.key, target, QuarantineReason.UNEXPECTED_KEY, size=event.size)
    except ClientError as exc:
        if _error_code(exc) in ("NoSuchKey", "404"):
            return Outcome.DUPLICATE  # an earlier delivery already moved it
        raise
    _delete(event.bucket, event.key)
    logger.warning("unexpected object quarantined", extra={"bucket": event.bucket, "key": event.key, "to": target})
    return Outcome.UNEXPECTED_KEY


def _locked_claim(s: Session, claim: _Claim) -> MediaFile | None:
    """The row, locked, if our claim still holds (a newer event may have re-claimed it after our lease ran out)."""
    row = s.get(MediaFile, claim.media_id, with_for_update=True)
    if row is None or row.status != MediaStatus.SCANNING or row.last_event_key != claim.identity:
        logger.warning("media claim lost before settling", extra={"media_id": str(claim.media_id)})
        return None
    return row


def _release(claim: _Claim) -> None:
    with session() as s:
        if _locked_claim(s, claim) is not None:
            reason = "object changed or deleted since the event"
            set_status(s, claim.media_id, MediaStatus.UPLOADING, reason=reason, only_from=(MediaStatus.SCANNING,))


def _give_up(claim: _Claim, exc: Exception) -> None:
    """Last delivery before the dead-letter queue: say so on the row rather than leave it `scanning` forever."""
    try:
        with session() as s:
            set_status(
                s,
                claim.media_id,
                MediaStatus.FAILED,
                reason=f"ingestion gave up: {type(exc).__name__}"[:200],
                only_from=(MediaStatus.SCANNING,),
            )
    except Exception:  # the original error is what the caller re-raises
        logger.exception("could not mark media failed", extra={"media_id": str(claim.media_id)})


# --- helpers ------------------------------------------------------------------------------------------------------


def _by_key(bucket: str, key: str) -> Any:
    return select(MediaFile).where(MediaFile.bucket == bucket, MediaFile.key == key)


def _copy(bucket: str, source: str, target: str, *, etag: str, size: int) -> str:
    """Copy one object version (the one with `etag`: S3 refuses with 412 if the source changed); returns the copy's
    ETag, which later reads of the copy are conditioned on."""
    s3 = aws.client("s3")
    copy_source = {"Bucket": bucket, "Key": source}
    condition = {"CopySourceIfMatch": f'"{etag}"'} if etag else {}
    if size <= _COPY_OBJECT_LIMIT:
        result = s3.copy_object(Bucket=bucket, Key=target, CopySource=copy_source, **condition)
        return _etag(result["CopyObjectResult"]["ETag"])
    s3.copy(copy_source, bucket, target, ExtraArgs=condition)  # multipart: the copy's ETag is not the source's
    return _etag(s3.head_object(Bucket=bucket, Key=target)["ETag"])


def _copy_tagged(bucket: str, source: str, target: str, reason: QuarantineReason, *, size: int) -> None:
    s3 = aws.client("s3")
    copy_source = {"Bucket": bucket, "Key": source}
    if size <= _COPY_OBJECT_LIMIT:
        s3.copy_object(Bucket=bucket, Key=target, CopySource=copy_source)
    else:
        s3.copy(copy_source, bucket, target)
    s3.put_object_tagging(
        Bucket=bucket, Key=target, Tagging={"TagSet": [{"Key": QUARANTINE_TAG, "Value": reason.value}]}
    )


def _delete(bucket: str, key: str) -> None:
    aws.client("s3").delete_object(Bucket=bucket, Key=key)


def _declared_notes(row: MediaFile, size: int | None) -> dict[str, Any]:
    notes: dict[str, Any] = {}
    if size is not None and row.declared_size is not None and row.declared_size != size:
        notes["declared_size_mismatch"] = {"declared": row.declared_size, "actual": size}
    return notes


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def _etag(value: str | None) -> str:
    return (value or "").strip('"')


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
