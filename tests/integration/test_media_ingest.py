"""Media ingestion end to end on real Postgres + moto: S3 puts the notification on the media queue, the media
function gets the SQS event built from what moto actually queued (URL-encoded keys included).

Every media file is generated here (Pillow, PyAV): no binary fixtures.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from sqlalchemy import select

from local.events import s3_object_created_body, sqs_event, sqs_message
from local.lambda_context import LambdaContext
from shared import aws
from shared.config import get_settings
from shared.db import session
from shared.db.models import MediaFile, MediaStatusEvent
from shared.media.ingest import QUARANTINE_TAG, Outcome, handle_notification
from tests.support.media import ELF, gif, jpeg, mp3, mp4, png

pytestmark = pytest.mark.usefixtures("aws_env")


# --- media made on the spot ------------------------------------------------------------------------------------


# --- harness -----------------------------------------------------------------------------------------------------


def new_media(user_id: uuid.UUID, filename: str, declared_type: str, declared_size: int | None = None) -> MediaFile:
    """A row as POST /v1/media leaves it: uploading, with the declared type and size."""
    media_id = uuid.uuid4()
    settings = get_settings()
    with session() as s:
        row = MediaFile(
            id=media_id,
            user_id=user_id,
            bucket=settings.media_bucket,
            key=f"media/{user_id}/{media_id}/{filename}",
            region=settings.aws_region,
            original_filename=filename,
            declared_content_type=declared_type,
            declared_size=declared_size,
            status="uploading",
        )
        s.add(row)
    return row


def upload(key: str, data: bytes) -> None:
    aws.client("s3").put_object(Bucket=get_settings().media_bucket, Key=key, Body=data)


def queued() -> list[dict[str, Any]]:
    """Everything S3 (moto) put on the media queue, as ReceiveMessage returns it."""
    sqs = aws.client("sqs")
    url = get_settings().media_queue_url
    messages: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get(
        "Messages", []
    ):
        messages.extend(batch)
    for message in messages:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return messages


def deliver(messages: list[dict[str, Any]]) -> dict[str, Any]:
    from functions.media.handler import handler

    return handler(sqs_event(messages, get_settings().media_queue_url), LambdaContext("conveyor-test-media"))


def ingest(user_id: uuid.UUID, filename: str, declared_type: str, data: bytes) -> MediaFile:
    row = new_media(user_id, filename, declared_type, len(data))
    upload(row.key, data)
    assert deliver(queued()) == {"batchItemFailures": []}
    return reload(row.id)


def reload(media_id: uuid.UUID) -> MediaFile:
    with session() as s:
        return s.get_one(MediaFile, media_id)


def history(media_id: uuid.UUID) -> list[tuple[str, str | None]]:
    with session() as s:
        rows = s.execute(
            select(MediaStatusEvent.status, MediaStatusEvent.reason)
            .where(MediaStatusEvent.media_id == media_id)
            .order_by(MediaStatusEvent.at)
        )
        return [(r.status, r.reason) for r in rows]


def object_exists(key: str) -> bool:
    s3 = aws.client("s3")
    return s3.list_objects_v2(Bucket=get_settings().media_bucket, Prefix=key).get("KeyCount", 0) > 0


def tags(key: str) -> dict[str, str]:
    tagset = aws.client("s3").get_object_tagging(Bucket=get_settings().media_bucket, Key=key)["TagSet"]
    return {t["Key"]: t["Value"] for t in tagset}


# --- ready --------------------------------------------------------------------------------------------------------


def test_png_with_spaces_plus_and_non_ascii_in_its_key_becomes_ready(alice) -> None:  # type: ignore[no-untyped-def]
    # Given a PNG uploaded under a key S3 URL-encodes (moto even encodes the slashes)
    data = png((640, 480))
    row = new_media(alice.id, "été photo+1.png", "image/png", len(data))
    upload(row.key, data)
    messages = queued()
    assert any("%2B1.png" in m["Body"] or "%2b1.png" in m["Body"] for m in messages)  # really encoded on the wire

    # When the media function gets the queue's messages (the s3:TestEvent among them)
    result = deliver(messages)

    # Then the file is ready with what the bytes say, and the history has timestamps
    assert result == {"batchItemFailures": []}
    media = reload(row.id)
    assert media.status == "ready"
    assert (media.kind, media.content_type, media.width, media.height) == ("image", "image/png", 640, 480)
    assert (media.orientation, media.is_animated, media.container) == ("landscape", False, "png")
    assert media.size_bytes == len(data)
    import hashlib

    assert media.checksum_sha256 == hashlib.sha256(data).hexdigest()
    assert media.etag
    assert media.last_event_key
    assert media.last_event_key.startswith(media.etag)
    assert [s for s, _ in history(row.id)] == ["scanning", "ready"]


def test_jpeg_becomes_ready_portrait(alice) -> None:  # type: ignore[no-untyped-def]
    media = ingest(alice.id, "portrait.jpg", "image/jpeg", jpeg((480, 640)))

    assert (media.status, media.content_type, media.width, media.height) == ("ready", "image/jpeg", 480, 640)
    assert media.orientation == "portrait"


def test_animated_gif_is_recognised_as_animated(alice) -> None:  # type: ignore[no-untyped-def]
    media = ingest(alice.id, "loop.gif", "image/gif", gif())

    assert (media.status, media.is_animated, media.width, media.height) == ("ready", True, 32, 24)
    assert media.meta["frames"] == 3


def test_mp4_h264_aac_becomes_ready_with_duration_and_codecs(alice) -> None:  # type: ignore[no-untyped-def]
    media = ingest(alice.id, "clip.mp4", "video/mp4", mp4(2.0))

    assert media.status == "ready"
    assert (media.kind, media.content_type, media.video_codec, media.audio_codec) == (
        "video",
        "video/mp4",
        "h264",
        "aac",
    )
    assert (media.width, media.height, media.stream_count) == (320, 240, 2)
    assert media.frame_rate == 25
    assert 1900 <= (media.duration_ms or 0) <= 2200
    assert media.bitrate
    assert media.bitrate > 0
    assert "mp4" in (media.container or "")


def test_mp3_becomes_ready_as_audio(alice) -> None:  # type: ignore[no-untyped-def]
    media = ingest(alice.id, "tone.mp3", "audio/mpeg", mp3(1.5))

    assert (media.status, media.kind, media.content_type, media.audio_codec) == ("ready", "audio", "audio/mpeg", "mp3")
    assert media.video_codec is None
    assert media.width is None
    assert 1400 <= (media.duration_ms or 0) <= 1700
    assert media.meta["sample_rate"] == 44100


def test_hls_playlist_is_recognised_as_streaming(alice) -> None:  # type: ignore[no-untyped-def]
    playlist = (
        b"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:4\n#EXTINF:4.0,\na.ts\n#EXTINF:2.5,\nb.ts\n#EXT-X-ENDLIST\n"
    )

    media = ingest(alice.id, "index.m3u8", "application/vnd.apple.mpegurl", playlist)

    assert (media.status, media.kind, media.streaming_format, media.duration_ms) == ("ready", "streaming", "hls", 6500)


def test_ready_image_gets_its_derived_work_enqueued(alice) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("shared.media.derived")
    from shared.db.models import Job

    media = ingest(alice.id, "thumbme.png", "image/png", png((64, 64)))

    with session() as s:
        jobs = s.scalars(select(Job).where(Job.input_media_id == media.id)).all()
    assert media.status == "ready"
    assert len(jobs) == 1


# --- quarantined --------------------------------------------------------------------------------------------------


def assert_quarantined(media: MediaFile, reason: str, original_key: str) -> None:
    assert (media.status, media.quarantine_reason) == ("quarantined", reason)
    assert media.key == "quarantine/" + original_key
    assert not object_exists(original_key)
    assert tags(media.key) == {QUARANTINE_TAG: reason}
    assert history(media.id)[-1] == ("quarantined", reason)


def test_png_renamed_mp4_is_a_type_mismatch(alice) -> None:  # type: ignore[no-untyped-def]
    row = new_media(alice.id, "movie.mp4", "video/mp4")
    upload(row.key, png())

    deliver(queued())

    media = reload(row.id)
    assert_quarantined(media, "type_mismatch", row.key)
    assert media.content_type == "image/png"


def test_executable_renamed_jpg_is_a_type_mismatch(alice) -> None:  # type: ignore[no-untyped-def]
    # Mismatch is checked before the allow-list: the file lies about what it is, which is the finding that matters.
    row = new_media(alice.id, "cat.jpg", "image/jpeg")
    upload(row.key, ELF)

    deliver(queued())

    media = reload(row.id)
    assert_quarantined(media, "type_mismatch", row.key)
    assert media.content_type == "application/x-executable"


def test_executable_declared_as_such_is_not_allowed(alice) -> None:  # type: ignore[no-untyped-def]
    row = new_media(alice.id, "tool", "application/x-executable")
    upload(row.key, ELF)

    deliver(queued())

    assert_quarantined(reload(row.id), "not_allowed", row.key)


@pytest.mark.parametrize("faststart", [False, True], ids=["index-at-end", "index-at-front"])
def test_truncated_mp4_is_unreadable(alice, faststart: bool) -> None:  # type: ignore[no-untyped-def]
    # Given the first half of a valid MP4: with the index at the end it cannot be opened; with the index at the
    # front it opens, and the packets pointing past the end fail when demuxed
    whole = mp4(2.0, faststart=faststart)
    row = new_media(alice.id, "cut.mp4", "video/mp4")
    upload(row.key, whole[: len(whole) // 2])

    deliver(queued())

    media = reload(row.id)
    assert_quarantined(media, "unreadable", row.key)
    assert media.meta["quarantine_detail"]


def test_decompression_bomb_png_is_quarantined(alice) -> None:  # type: ignore[no-untyped-def]
    # Given a ~50 KB PNG that decodes to 20000 x 20000 = 400 M pixels (limit: 100 M)
    bomb = png((20000, 20000), mode="1")
    assert len(bomb) < 200_000
    row = new_media(alice.id, "tiny.png", "image/png")
    upload(row.key, bomb)

    deliver(queued())

    assert_quarantined(reload(row.id), "decompression_bomb", row.key)


def test_too_large_is_quarantined_without_reading_it(alice, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CONVEYOR_MEDIA_MAX_BYTES", "1000")
    from shared.config import reset_settings

    reset_settings()
    row = new_media(alice.id, "big.png", "image/png")
    upload(row.key, png())

    deliver(queued())

    assert_quarantined(reload(row.id), "too_large", row.key)


def test_object_no_record_expects_is_moved_to_quarantine_and_tagged(alice) -> None:  # type: ignore[no-untyped-def]
    # Given an object under the user's prefix with a media id that does not exist
    key = f"media/{alice.id}/{uuid.uuid4()}/surprise.png"
    upload(key, png())

    result = deliver(queued())

    assert result == {"batchItemFailures": []}
    assert not object_exists(key)
    assert tags("quarantine/" + key) == {QUARANTINE_TAG: "unexpected_key"}
    with session() as s:
        assert s.scalar(select(MediaFile).where(MediaFile.key.like("%surprise.png"))) is None


# --- idempotency --------------------------------------------------------------------------------------------------


def test_duplicate_delivery_is_processed_once(alice) -> None:  # type: ignore[no-untyped-def]
    row = new_media(alice.id, "twice.png", "image/png")
    upload(row.key, png())
    messages = [m for m in queued() if "Records" in m["Body"]]

    deliver(messages)
    second = deliver([sqs_message(m["Body"], receive_count=2) for m in messages])

    assert second == {"batchItemFailures": []}
    assert [s for s, _ in history(row.id)] == ["scanning", "ready"]


def test_older_event_after_a_newer_one_is_skipped(alice) -> None:  # type: ignore[no-untyped-def]
    # Given real-S3-shaped events (with sequencers) for the same key: the newer one is applied first
    row = new_media(alice.id, "order.png", "image/png")
    upload(row.key, png())
    queued()
    etag = aws.client("s3").head_object(Bucket=row.bucket, Key=row.key)["ETag"].strip('"')
    encoded = row.key.replace(" ", "+")
    newer = s3_object_created_body(row.bucket, encoded, size=1, etag=etag, sequencer="0062E99A88DC407460")
    older = s3_object_created_body(row.bucket, encoded, size=1, etag="0" * 32, sequencer="0062E99A88DC407400")

    assert handle_notification(newer) == [Outcome.READY]
    # When the older event arrives late, Then it changes nothing
    assert handle_notification(older) == [Outcome.OUT_OF_ORDER]
    media = reload(row.id)
    assert media.status == "ready"
    assert media.last_event_key == f"{etag}:0062E99A88DC407460"


def test_s3_test_event_is_ignored() -> None:
    body = json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "b", "Time": "2026-11-25T10:00:00Z"})

    assert handle_notification(body) == []


def test_another_bucket_is_ignored_without_touching_anything(db) -> None:  # type: ignore[no-untyped-def]
    body = s3_object_created_body("someone-elses-bucket", "media/a.png", size=1, etag="e")

    assert handle_notification(body) == [Outcome.IGNORED]


# --- large objects: probed through ranged GETs instead of a /tmp spool --------------------------------------------


@pytest.fixture
def no_spool(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Make every object count as large, so probes read it through S3RangeReader (as a 1 GiB upload would be)."""
    from shared.media import ingest as ingest_module

    monkeypatch.setattr(ingest_module, "SPOOL_MAX_BYTES", 0)
    # Small blocks, so the probes really go back to S3 for the middle of these small files.
    monkeypatch.setattr(ingest_module, "RANGE_BLOCK_BYTES", 4096)
    fetches: list[int] = []
    original = ingest_module.S3RangeReader._fetch

    def counting(self, start: int, length: int) -> None:  # type: ignore[no-untyped-def]
        fetches.append(start)
        original(self, start, length)

    monkeypatch.setattr(ingest_module.S3RangeReader, "_fetch", counting)
    return fetches


def test_large_mp4_is_probed_through_ranged_reads(alice, no_spool: list[int]) -> None:  # type: ignore[no-untyped-def]
    media = ingest(alice.id, "big.mp4", "video/mp4", mp4(2.0, faststart=True))

    assert no_spool, "the probe read ranges from S3"
    assert (media.status, media.video_codec, media.audio_codec, media.width) == ("ready", "h264", "aac", 320)
    assert 1900 <= (media.duration_ms or 0) <= 2200


@pytest.mark.usefixtures("no_spool")
def test_large_png_is_probed_through_ranged_reads(alice) -> None:  # type: ignore[no-untyped-def]
    media = ingest(alice.id, "big.png", "image/png", png((300, 200)))

    assert (media.status, media.width, media.height) == ("ready", 300, 200)


@pytest.mark.usefixtures("no_spool")
@pytest.mark.parametrize("faststart", [False, True], ids=["index-at-end", "index-at-front"])
def test_large_truncated_mp4_is_unreadable_when_sampled(alice, faststart: bool) -> None:  # type: ignore[no-untyped-def]
    # Only the start and the last seconds are demuxed for large objects: the cut end is still noticed
    whole = mp4(2.0, faststart=faststart)
    row = new_media(alice.id, "cut-big.mp4", "video/mp4")
    upload(row.key, whole[: len(whole) // 2])

    deliver(queued())

    assert_quarantined(reload(row.id), "unreadable", row.key)
