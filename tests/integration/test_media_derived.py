"""Derived files: thumbnails (Pillow) and poster frames (PyAV) made by jobs through the real worker function."""

from __future__ import annotations

import hashlib
import io
import uuid
from fractions import Fraction

import av
import pytest
from PIL import Image
from sqlalchemy import func, select, update

from shared import aws
from shared.config import get_settings
from shared.db import session
from shared.db.enums import MediaKind, MediaStatus
from shared.db.models import Job, MediaFile
from shared.media.derived import POSTER_TYPE, THUMBNAIL_TYPE, enqueue_derivatives
from shared.media.status import set_status
from tests.support.jobs import drain

pytestmark = pytest.mark.usefixtures("aws_env")


def png_bytes(width: int = 1200, height: int = 800) -> bytes:
    image = Image.new("RGBA", (width, height), (200, 30, 30, 255))
    image.paste((30, 30, 200, 128), (0, 0, width // 2, height))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def mp4_bytes(seconds: int = 2, fps: int = 10, width: int = 64, height: int = 48) -> bytes:
    """A short real H.264 + AAC MP4, each frame a different grey, so the poster frame is identifiable."""
    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        audio = container.add_stream("aac", rate=44100)
        for i in range(seconds * fps):
            frame = av.VideoFrame.from_image(Image.new("RGB", (width, height), ((i * 10) % 256,) * 3))
            frame.pts, frame.time_base = i, Fraction(1, fps)
            container.mux(video.encode(frame))
        container.mux(video.encode())
        for i in range(seconds * 44100 // 1024):
            frame = av.AudioFrame(format="fltp", layout="mono", samples=1024)
            for plane in frame.planes:
                plane.update(bytes(plane.buffer_size))  # silence
            frame.sample_rate, frame.pts = 44100, i * 1024
            container.mux(audio.encode(frame))
        container.mux(audio.encode())
    return out.getvalue()


def uploaded_and_ready(user, filename: str, content_type: str, body: bytes, kind: MediaKind, **values) -> str:  # type: ignore[no-untyped-def]
    """Request an upload, put the object where the POST would have, and mark it ready as ingestion does."""
    r = user.client.post("/v1/media", json_body={"filename": filename, "content_type": content_type, "size": len(body)})
    assert r.status == 201, r.json
    media_id = uuid.UUID(r.json["media"]["id"])
    aws.client("s3").put_object(
        Bucket=get_settings().media_bucket, Key=r.json["upload"]["fields"]["key"], Body=body, ContentType=content_type
    )
    with session() as s:
        s.execute(
            update(MediaFile)
            .where(MediaFile.id == media_id)
            .values(kind=kind.value, content_type=content_type, size_bytes=len(body), **values)
        )
        assert set_status(s, media_id, MediaStatus.READY)
    return str(media_id)


def enqueue(media_id: str) -> list:  # type: ignore[type-arg]
    with session() as s:
        media = s.get(MediaFile, uuid.UUID(media_id))
        return enqueue_derivatives(s, media)


def get_object(key: str) -> bytes:
    return aws.client("s3").get_object(Bucket=get_settings().media_bucket, Key=key)["Body"].read()


def derived_rows(media_id: str) -> list[MediaFile]:
    with session() as s:
        return list(s.scalars(select(MediaFile).where(MediaFile.derived_from_id == uuid.UUID(media_id))))


def job_statuses(type_: str) -> list[str]:
    with session() as s:
        return list(s.scalars(select(Job.status).where(Job.type == type_)))


def test_image_gets_a_320px_jpeg_thumbnail_listed_on_its_parent(alice):
    # Given a ready 1200x800 PNG
    media_id = uploaded_and_ready(alice, "big.png", "image/png", png_bytes(), MediaKind.IMAGE, width=1200, height=800)

    # When ingestion enqueues its derivatives (twice: a duplicate S3 event) and the worker runs the jobs
    assert len(enqueue(media_id)) == 1
    assert [c.created for c in enqueue(media_id)] == [False]
    drain()

    # Then one thumbnail job completed and one ready JPEG ≤ 320 px exists in S3
    assert job_statuses(THUMBNAIL_TYPE) == ["completed"]
    [thumb] = derived_rows(media_id)
    assert (thumb.status, thumb.derivation, thumb.content_type, thumb.kind) == (
        "ready",
        "thumbnail",
        "image/jpeg",
        "image",
    )
    assert (thumb.width, thumb.height) == (320, 213)
    assert thumb.key == f"media/{alice.id}/{thumb.id}/thumbnail.jpg"
    data = get_object(thumb.key)
    assert thumb.size_bytes == len(data)
    assert thumb.checksum_sha256 == hashlib.sha256(data).hexdigest()
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "JPEG"
        assert max(image.size) <= 320
    # And the parent lists it, and the thumbnail itself is downloadable
    parent = alice.client.get(f"/v1/media/{media_id}").json
    assert parent["derived"] == [
        {
            "id": str(thumb.id),
            "derivation": "thumbnail",
            "status": "ready",
            "content_type": "image/jpeg",
            "width": 320,
            "height": 213,
        }
    ]
    listed = alice.client.get("/v1/media").json["items"]
    assert [m["id"] for m in listed] == [media_id]  # derived files are shown on the parent, not beside it
    assert listed[0]["derived"][0]["id"] == str(thumb.id)
    child = alice.client.get(f"/v1/media/{thumb.id}").json
    assert child["derived_from_id"] == media_id
    assert child["download_url"]


def test_rerunning_the_thumbnail_job_makes_no_second_file(alice):
    # Given an image whose thumbnail was made
    media_id = uploaded_and_ready(alice, "a.png", "image/png", png_bytes(400, 400), MediaKind.IMAGE)
    enqueue(media_id)
    drain()
    # When another job for it runs (the first one finished, so the dedupe key is free again)
    assert [c.created for c in enqueue(media_id)] == [True]
    drain()
    # Then it completes without a second derived row or object
    assert job_statuses(THUMBNAIL_TYPE) == ["completed", "completed"]
    [thumb] = derived_rows(media_id)
    assert (thumb.width, thumb.height) == (320, 320)
    listing = aws.client("s3").list_objects_v2(Bucket=get_settings().media_bucket, Prefix=f"media/{alice.id}/")
    assert len(listing["Contents"]) == 2  # the original and one thumbnail


def test_video_gets_a_poster_frame(alice):
    # Given a ready 2 s, 64x48, 10 fps H.264 MP4
    body = mp4_bytes()
    media_id = uploaded_and_ready(alice, "clip.mp4", "video/mp4", body, MediaKind.VIDEO, duration_ms=2000)

    # When its derivatives are enqueued and run
    [created] = enqueue(media_id)
    assert created.job.type == POSTER_TYPE
    drain()

    # Then a ready poster JPEG of the video's size exists, taken at ~10% (frame 2 of 20)
    assert job_statuses(POSTER_TYPE) == ["completed"]
    [poster] = derived_rows(media_id)
    assert (poster.status, poster.derivation, poster.content_type) == ("ready", "poster", "image/jpeg")
    assert (poster.width, poster.height) == (64, 48)
    assert poster.key == f"media/{alice.id}/{poster.id}/poster.jpg"
    with Image.open(io.BytesIO(get_object(poster.key))) as image:
        assert image.size == (64, 48)
        grey = image.convert("L").getpixel((32, 24))
        assert abs(grey - 20) <= 8, grey  # frame 2 is grey 20; frame 0 would be black
    assert alice.client.get(f"/v1/media/{media_id}").json["derived"][0]["derivation"] == "poster"


def test_unreadable_image_fails_the_job_without_retries(alice):
    # Given a "PNG" that is not an image
    media_id = uploaded_and_ready(alice, "fake.png", "image/png", b"not an image at all", MediaKind.IMAGE)
    # When its thumbnail job runs
    enqueue(media_id)
    drain()
    # Then the job failed on its first attempt and no derived file is ready
    with session() as s:
        job = s.scalar(select(Job).where(Job.type == THUMBNAIL_TYPE))
        assert (job.status, job.attempts) == ("failed", 1)
    assert [r.status for r in derived_rows(media_id)] in ([], ["uploading"])


def test_audio_and_derived_files_get_no_derivatives(alice):
    audio = uploaded_and_ready(alice, "a.mp3", "audio/mpeg", b"ID3" + b"\0" * 100, MediaKind.AUDIO)
    assert enqueue(audio) == []
    image = uploaded_and_ready(alice, "b.png", "image/png", png_bytes(50, 50), MediaKind.IMAGE)
    enqueue(image)
    drain()
    [thumb] = derived_rows(image)
    assert enqueue(str(thumb.id)) == []


def test_deleting_the_parent_removes_the_thumbnail_object(alice):
    media_id = uploaded_and_ready(alice, "c.png", "image/png", png_bytes(500, 300), MediaKind.IMAGE)
    enqueue(media_id)
    drain()
    assert len(derived_rows(media_id)) == 1
    assert alice.client.delete(f"/v1/media/{media_id}").status == 200
    listing = aws.client("s3").list_objects_v2(Bucket=get_settings().media_bucket, Prefix=f"media/{alice.id}/")
    assert listing.get("KeyCount") == 0
    assert [r.status for r in derived_rows(media_id)] == ["deleted"]
    with session() as s:
        assert s.scalar(select(func.count()).select_from(MediaFile).where(MediaFile.deleted_at.is_(None))) == 0
