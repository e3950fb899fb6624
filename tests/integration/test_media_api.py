"""Media API: upload requests (presigned POST), listing, inspection, deletion, attach and the TTL sweep.

Real Postgres, moto S3. moto under mock_aws cannot receive the browser's HTTP POST, so an upload is simulated
with `put_object` at the key the POST policy names.
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError
from sqlalchemy import func, select, update

from shared import aws
from shared.config import get_settings
from shared.db import session
from shared.db.enums import MediaKind, MediaStatus
from shared.db.models import MediaFile, MediaStatusEvent, UserSettings
from shared.errors import InvalidInput
from shared.media.housekeeping import delete_expired_media
from shared.media.status import set_status
from shared.media.uploads import sanitize_filename

pytestmark = pytest.mark.usefixtures("aws_env")


def request_upload(user, **overrides):  # type: ignore[no-untyped-def]
    body = {"filename": "photo.png", "content_type": "image/png", "size": 1234} | overrides
    return user.client.post("/v1/media", json_body=body)


def mark_ready(media_id: str, kind: MediaKind = MediaKind.IMAGE, **values: object) -> None:
    """What ingestion does once it inspected the object (its code is tested elsewhere)."""
    with session() as s:
        s.execute(update(MediaFile).where(MediaFile.id == uuid.UUID(media_id)).values(kind=kind.value, **values))
        assert set_status(s, uuid.UUID(media_id), MediaStatus.READY)


def put_uploaded(key: str, body: bytes = b"x" * 1234, content_type: str = "image/png") -> None:
    aws.client("s3").put_object(Bucket=get_settings().media_bucket, Key=key, Body=body, ContentType=content_type)


def object_exists(key: str) -> bool:
    try:
        aws.client("s3").head_object(Bucket=get_settings().media_bucket, Key=key)
    except ClientError as exc:
        if exc.response["Error"]["Code"] in {"404", "NoSuchKey"}:
            return False
        raise
    return True


def media_count() -> int:
    with session() as s:
        return s.scalar(select(func.count()).select_from(MediaFile)) or 0


def key_of(media_id: str) -> str:
    with session() as s:
        return s.scalar(select(MediaFile.key).where(MediaFile.id == uuid.UUID(media_id)))  # type: ignore[return-value]


# --- upload requests ----------------------------------------------------------------------------------------------


def test_upload_request_records_uploading_and_signs_a_post_with_exact_conditions(alice):
    # Given a member, When she asks to upload a 1234-byte PNG
    r = request_upload(alice, purpose="avatar", ttl_seconds=3600)

    # Then a record exists in `uploading` with what she declared
    assert r.status == 201, r.json
    media, upload = r.json["media"], r.json["upload"]
    assert media["status"] == "uploading"
    assert media["filename"] == "photo.png"
    assert media["declared_size"] == 1234
    assert media["declared_content_type"] == "image/png"
    assert media["purpose"] == "avatar"
    assert media["ttl_seconds"] == 3600
    assert media["download_url"] is None
    assert media["derived"] == []
    # And the key is media/<user>/<media id>/<safe name>
    key = f"media/{alice.id}/{media['id']}/photo.png"
    assert upload["fields"]["key"] == key
    assert upload["fields"]["Content-Type"] == "image/png"
    assert get_settings().media_bucket in upload["url"]
    # And the POST policy holds the exact size, content type and key, for 15 minutes
    policy = json.loads(base64.b64decode(upload["fields"]["policy"]))
    assert ["content-length-range", 1234, 1234] in policy["conditions"]
    assert {"Content-Type": "image/png"} in policy["conditions"]
    assert {"key": key} in policy["conditions"]
    expiration = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    assert timedelta(minutes=14) < expiration - datetime.now(UTC) <= timedelta(minutes=15)
    # And the requested → uploading change is in the status history
    with session() as s:
        events = s.scalars(select(MediaStatusEvent.status).where(MediaStatusEvent.media_id == uuid.UUID(media["id"])))
        assert list(events) == ["uploading"]
        row = s.get(MediaFile, uuid.UUID(media["id"]))
        assert row.region == get_settings().aws_region
        assert row.key == key
        assert row.expires_at is not None


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("../../etc/passwd", "passwd"),
        ("a/b\\c.png", "c.png"),
        ("C:\\Users\\me\\Desktop\\shot.png", "shot.png"),
        ("bad\x00na\x1fme\u200b.png", "badname.png"),
        ("été 📷.png", "été 📷.png"),
        ("e\u0301te\u0301.png", "été.png"),  # NFD in, NFC out
        ("  many   spaces\t.png ", "many spaces .png"),
        (".hidden.png", "hidden.png"),
        ("x" * 300 + ".jpeg", "x" * 195 + ".jpeg"),
    ],
)
def test_filenames_are_sanitised(raw, safe):
    # Given a name a client might send, When it is sanitised, Then only a safe last segment remains
    assert sanitize_filename(raw) == safe


@pytest.mark.parametrize("raw", ["", "..", ".", "a/..", "dir/", "\x00\x01", "   "])
def test_unusable_filenames_are_refused(raw):
    with pytest.raises(InvalidInput) as exc:
        sanitize_filename(raw)
    assert exc.value.code == "invalid_filename"


def test_upload_keeps_unicode_names_in_the_key(alice):
    # Given a unicode name with a path in front, When an upload is requested
    r = request_upload(alice, filename="../été 📷.png")
    # Then the key and the record carry the sanitised unicode name
    assert r.status == 201, r.json
    assert r.json["media"]["filename"] == "été 📷.png"
    assert r.json["upload"]["fields"]["key"].endswith("/été 📷.png")


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"filename": ".."}, "invalid_filename"),
        ({"filename": ""}, "invalid_filename"),
        ({"size": 0}, "size_not_allowed"),
        ({"size": -5}, "size_not_allowed"),
        ({"size": 5 * 1024**3 + 1}, "size_not_allowed"),
        ({"content_type": "application/x-msdownload"}, "type_not_allowed"),
        ({"content_type": "text/html"}, "type_not_allowed"),
        ({"ttl_seconds": 10}, "invalid_ttl"),
    ],
)
def test_refused_uploads_are_422_and_store_nothing(alice, overrides, code):
    # Given a request outside the allow-list, When it is sent
    r = request_upload(alice, **overrides)
    # Then it is a 422 with a specific code, no URL is issued and no record exists
    assert r.status == 422, r.json
    assert r.error_code == code
    assert "upload" not in r.json
    assert media_count() == 0


def test_upload_into_someone_elses_project_is_404(alice, bob):
    project = bob.client.post("/v1/projects", json_body={"name": "bob's"}).json["id"]
    r = request_upload(alice, project_id=project)
    assert r.status == 404
    assert media_count() == 0


# --- list and get -------------------------------------------------------------------------------------------------


def test_list_filters_by_project_status_and_kind_newest_first(alice, bob):
    # Given alice has a project, two images and a video (one ready), and bob has one file
    project = alice.client.post("/v1/projects", json_body={"name": "shoot"}).json["id"]
    first = request_upload(alice, project_id=project).json["media"]["id"]
    second = request_upload(alice, filename="clip.mp4", content_type="video/mp4").json["media"]["id"]
    third = request_upload(alice, project_id=project).json["media"]["id"]
    request_upload(bob)
    mark_ready(third)
    mark_ready(second, MediaKind.VIDEO)

    def ids(query):  # type: ignore[no-untyped-def]
        r = alice.client.get("/v1/media", query=query)
        assert r.status == 200, r.json
        return [m["id"] for m in r.json["items"]]

    # Then each filter narrows the list, newest first, and bob's file never shows
    assert ids({}) == [third, second, first]
    assert ids({"project_id": project}) == [third, first]
    assert ids({"status": "ready"}) == [third, second]
    assert ids({"kind": "video"}) == [second]
    assert ids({"project_id": project, "status": "uploading"}) == [first]
    # And pages follow the cursor
    page = alice.client.get("/v1/media", query={"limit": "2"}).json
    assert [m["id"] for m in page["items"]] == [third, second]
    rest = alice.client.get("/v1/media", query={"limit": "2", "cursor": page["next_cursor"]}).json
    assert [m["id"] for m in rest["items"]] == [first]
    assert rest["next_cursor"] is None
    # And bad filters are 422, never 500
    assert alice.client.get("/v1/media", query={"status": "nope"}).status == 422
    assert alice.client.get("/v1/media", query={"cursor": "garbage"}).status == 422


def test_another_users_media_is_404_everywhere(alice, bob):
    media_id = request_upload(alice).json["media"]["id"]
    mark_ready(media_id)
    assert bob.client.get(f"/v1/media/{media_id}").status == 404
    assert bob.client.delete(f"/v1/media/{media_id}").status == 404
    assert bob.client.post(f"/v1/media/{media_id}/attach", json_body={"job_id": str(uuid.uuid4())}).status == 404
    assert bob.client.get(f"/v1/media/{uuid.uuid4()}").status == 404
    assert alice.client.get(f"/v1/media/{media_id}").json["status"] == "ready"


def test_download_url_only_once_ready(alice):
    # Given an upload that arrived in S3
    created = request_upload(alice).json
    media_id, key = created["media"]["id"], created["upload"]["fields"]["key"]
    put_uploaded(key)
    # When it is not inspected yet, Then there is no link
    assert alice.client.get(f"/v1/media/{media_id}").json["download_url"] is None
    # When ingestion marked it ready, Then GET has all metadata and a short-lived link to the object
    mark_ready(media_id, width=10, height=20, size_bytes=1234, content_type="image/png", checksum_sha256="ab" * 32)
    body = alice.client.get(f"/v1/media/{media_id}").json
    assert body["status"] == "ready"
    assert (body["width"], body["height"], body["size"], body["kind"]) == (10, 20, 1234, "image")
    assert body["checksum_sha256"] == "ab" * 32
    assert body["download_url"]
    assert "X-Amz-Expires=300" in body["download_url"]
    # When it is quarantined, Then the link is gone again
    with session() as s:
        set_status(s, uuid.UUID(media_id), MediaStatus.QUARANTINED, reason="type mismatch")
    body = alice.client.get(f"/v1/media/{media_id}").json
    assert body["download_url"] is None
    assert body["quarantine_reason"] == "type mismatch"


# --- delete -------------------------------------------------------------------------------------------------------


def test_delete_removes_objects_and_keeps_the_record(alice):
    # Given a ready file in S3 with a derived thumbnail
    created = request_upload(alice).json
    media_id, key = created["media"]["id"], created["upload"]["fields"]["key"]
    put_uploaded(key)
    mark_ready(media_id)
    thumb_key = f"media/{alice.id}/{uuid.uuid4()}/thumbnail.jpg"
    put_uploaded(thumb_key, b"jpeg", "image/jpeg")
    with session() as s:
        thumb = MediaFile(
            user_id=alice.id,
            bucket=get_settings().media_bucket,
            key=thumb_key,
            region="us-east-1",
            status="ready",
            kind="image",
            derived_from_id=uuid.UUID(media_id),
            derivation="thumbnail",
        )
        s.add(thumb)
        s.flush()
        thumb_id = str(thumb.id)

    # When alice deletes it
    r = alice.client.delete(f"/v1/media/{media_id}")

    # Then both objects are gone and both records are `deleted`, with deleted_at
    assert r.status == 200, r.json
    assert r.json["status"] == "deleted"
    assert r.json["deleted_at"] is not None
    assert r.json["derived"] == [
        {
            "id": thumb_id,
            "derivation": "thumbnail",
            "status": "deleted",
            "content_type": None,
            "width": None,
            "height": None,
        }
    ]
    assert not object_exists(key)
    assert not object_exists(thumb_key)
    assert alice.client.get(f"/v1/media/{thumb_id}").json["status"] == "deleted"
    # And the list no longer shows it unless asked for deleted files
    assert alice.client.get("/v1/media").json["items"] == []
    assert [m["id"] for m in alice.client.get("/v1/media", query={"status": "deleted"}).json["items"]] == [media_id]
    # And deleting again is a 200 with the same record (idempotent), and no second history entry
    again = alice.client.delete(f"/v1/media/{media_id}")
    assert again.status == 200
    assert again.json["status"] == "deleted"
    with session() as s:
        deleted_events = s.scalar(
            select(func.count()).where(
                MediaStatusEvent.media_id == uuid.UUID(media_id), MediaStatusEvent.status == "deleted"
            )
        )
    assert deleted_events == 1


def test_delete_of_a_never_uploaded_file_works(alice):
    media_id = request_upload(alice).json["media"]["id"]
    r = alice.client.delete(f"/v1/media/{media_id}")
    assert r.status == 200
    assert r.json["status"] == "deleted"


# --- attach -------------------------------------------------------------------------------------------------------


def test_attach_to_own_job_only_when_ready(alice, bob):
    media_id = request_upload(alice).json["media"]["id"]
    with session() as s:
        from shared.db.models import Job

        job = Job(user_id=alice.id, type="email.send", payload={}, status="completed", run_at=func.now())
        bobs = Job(user_id=bob.id, type="email.send", payload={}, status="completed", run_at=func.now())
        s.add_all([job, bobs])
        s.flush()
        job_id, bobs_job = str(job.id), str(bobs.id)

    # When the file is still uploading, Then attaching is a 409
    r = alice.client.post(f"/v1/media/{media_id}/attach", json_body={"job_id": job_id})
    assert r.status == 409
    assert r.error_code == "media_not_ready"
    # When it is ready, Then bob's job is a 404 and her own job attaches it
    mark_ready(media_id)
    assert alice.client.post(f"/v1/media/{media_id}/attach", json_body={"job_id": bobs_job}).status == 404
    r = alice.client.post(f"/v1/media/{media_id}/attach", json_body={"job_id": job_id})
    assert r.status == 200, r.json
    assert r.json["status"] == "attached"
    assert r.json["attached_at"] is not None
    assert r.json["download_url"]
    # And neither or both targets is a 422
    assert alice.client.post(f"/v1/media/{media_id}/attach", json_body={}).status == 422


# --- TTL ----------------------------------------------------------------------------------------------------------


def test_ttl_sweep_deletes_expired_media_and_their_objects(alice):
    # Given one file whose TTL passed and one still alive
    expired = request_upload(alice, ttl_seconds=60).json
    alive = request_upload(alice, ttl_seconds=3600).json
    for created in (expired, alive):
        put_uploaded(created["upload"]["fields"]["key"])
        mark_ready(created["media"]["id"])
    with session() as s:
        s.execute(
            update(MediaFile)
            .where(MediaFile.id == uuid.UUID(expired["media"]["id"]))
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )

    # When the scheduler step runs (twice: the second tick finds nothing)
    assert delete_expired_media() == 1
    assert delete_expired_media() == 0

    # Then only the expired one lost its object and is deleted
    assert not object_exists(expired["upload"]["fields"]["key"])
    assert object_exists(alive["upload"]["fields"]["key"])
    assert alice.client.get(f"/v1/media/{expired['media']['id']}").json["status"] == "deleted"
    assert alice.client.get(f"/v1/media/{alive['media']['id']}").json["status"] == "ready"


# --- per-user upload limit (OWASP API4) ---------------------------------------------------------------------------


def test_a_users_own_upload_limit_refuses_larger_declared_sizes(alice, bob):
    # Given alice's account is limited to 1000 bytes per file (an admin's setting), bob has the instance default
    with session() as s:
        s.add(UserSettings(user_id=alice.id, media_max_bytes=1000))

    # When she asks for a 1001-byte upload, Then it is a 422 naming her limit, and nothing is stored or signed
    r = request_upload(alice, size=1001)
    assert r.status == 422, r.json
    assert r.error_code == "size_not_allowed"
    assert r.json["error"]["details"] == {"size": 1001, "max": 1000}
    assert media_count() == 0
    # And exactly her limit is fine, as is 1001 bytes for bob
    assert request_upload(alice, size=1000).status == 201
    assert request_upload(bob, size=1001).status == 201


def test_a_users_limit_cannot_exceed_the_instances(alice, monkeypatch):
    monkeypatch.setenv("CONVEYOR_MEDIA_MAX_BYTES", "2000")
    from shared.config import reset_settings

    reset_settings()
    with session() as s:
        s.add(UserSettings(user_id=alice.id, media_max_bytes=10**9))

    r = request_upload(alice, size=2001)

    assert r.status == 422, r.json
    assert r.json["error"]["details"]["max"] == 2000
