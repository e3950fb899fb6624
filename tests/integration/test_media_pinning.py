"""Media content is pinned to what was scanned, over real HTTP: the browser's presigned POST and the presigned GET go
to a moto *server* (not `mock_aws`), S3 puts its notifications on the media queue, and the media function gets the
SQS event built from what moto really queued.

moto 5.2.5 does not check POST policy conditions (`content-length-range`, the key, the expiry): whatever the policy
says, these tests show that ingestion enforces the size and that a policy used twice cannot change what is served.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import requests
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from sqlalchemy import select, update

from local.aws_emulator import MotoServer
from local.aws_resources import create_resources
from local.events import sqs_event, sqs_message
from local.lambda_context import LambdaContext
from shared import aws
from shared.config import get_settings
from shared.db import session
from shared.db.models import Item, ItemFile, MediaFile, MediaStatusEvent
from shared.media.housekeeping import sweep_expired_media
from shared.media.ingest import QUARANTINE_TAG
from shared.resources import ResourceNames
from tests.conftest import reconfigure
from tests.support.media import ELF, png


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    server = MotoServer()
    endpoint = server.start()
    yield endpoint
    server.stop()


@pytest.fixture
def s3_server(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh moto server state with Conveyor's bucket, queues and notification; every client talks HTTP to it."""
    requests.post(f"{moto_endpoint}/moto-api/reset", timeout=10).raise_for_status()
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    reconfigure()
    for key, value in create_resources(ResourceNames("test")).items():
        monkeypatch.setenv(key, value)
    reconfigure()
    yield moto_endpoint
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    reconfigure()


pytestmark = pytest.mark.usefixtures("s3_server")


# --- harness ------------------------------------------------------------------------------------------------------


def request_upload(user, filename: str, content_type: str, size: int) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = user.client.post("/v1/media", json_body={"filename": filename, "content_type": content_type, "size": size})
    assert r.status == 201, r.json
    return r.json


def post_file(upload: dict[str, Any], filename: str, data: bytes) -> requests.Response:
    """What a browser does with `upload`: a multipart POST, every field first and the file last."""
    return requests.post(upload["url"], data=upload["fields"], files={"file": (filename, data)}, timeout=30)


def drive_ingestion() -> dict[str, Any]:
    """Deliver everything S3 put on the media queue to the media function, as the SQS event source would."""
    from functions.media.handler import handler

    sqs, url = aws.client("sqs"), get_settings().media_queue_url
    messages: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get(
        "Messages", []
    ):
        messages.extend(batch)
    for message in messages:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    result = handler(sqs_event(messages, url), LambdaContext("conveyor-test-media"))
    result["messages"] = messages
    return result


def media(user, media_id: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = user.client.get(f"/v1/media/{media_id}")
    assert r.status == 200, r.json
    return r.json


def download(url: str) -> requests.Response:
    response = requests.get(url, timeout=30)
    assert response.status_code == 200, response.text
    return response


def object_exists(key: str) -> bool:
    try:
        aws.client("s3").head_object(Bucket=get_settings().media_bucket, Key=key)
    except ClientError as exc:
        if exc.response["Error"]["Code"] in {"404", "NoSuchKey"}:
            return False
        raise
    return True


def uploaded_and_ready(user, filename: str, data: bytes) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    created = request_upload(user, filename, "image/png", len(data))
    assert post_file(created["upload"], filename, data).status_code in (200, 201, 204)
    assert drive_ingestion()["batchItemFailures"] == []
    body = media(user, created["media"]["id"])
    assert body["status"] == "ready", body
    return created


# --- the policy is good for one object ----------------------------------------------------------------------------


def test_reusing_the_upload_policy_after_the_scan_changes_nothing_that_is_served(alice) -> None:  # type: ignore[no-untyped-def]
    # Given a PNG uploaded through the presigned POST and scanned ready
    scanned = png((64, 48))
    created = uploaded_and_ready(alice, "photo.png", scanned)
    media_id, upload = created["media"]["id"], created["upload"]
    before = media(alice, media_id)
    assert before["checksum_sha256"] == hashlib.sha256(scanned).hexdigest()

    # When the same policy (still valid) is used again with an ELF of exactly the same size
    evil = (ELF * (len(scanned) // len(ELF) + 1))[: len(scanned)]
    assert len(evil) == len(scanned)
    second = post_file(upload, "photo.png", evil)
    assert second.status_code in (200, 201, 204)  # moto accepts it, as S3 would within the policy's validity
    result = drive_ingestion()

    # Then the second object is refused (moved aside, tagged) and the record is exactly what was scanned
    assert result["batchItemFailures"] == []
    after = media(alice, media_id)
    assert (after["status"], after["content_type"], after["checksum_sha256"], after["size"]) == (
        "ready",
        "image/png",
        before["checksum_sha256"],
        len(scanned),
    )
    with session() as s:
        history = list(
            s.scalars(select(MediaStatusEvent.status).where(MediaStatusEvent.media_id == uuid.UUID(media_id)))
        )
    assert history == ["uploading", "scanning", "ready"]
    # And the download link still returns the scanned bytes
    assert download(after["download_url"]).content == scanned
    # And so does what publishing hands to a platform (the presigned link of the item's file)
    assert _published_file_bytes(alice, media_id) == scanned
    # And the ELF is nowhere a reader looks: not under the upload key, only as tagged evidence in quarantine
    assert not object_exists(upload["fields"]["key"])
    evidence = aws.client("s3").list_objects_v2(Bucket=get_settings().media_bucket, Prefix="quarantine/")["Contents"]
    assert len(evidence) == 1
    tags = aws.client("s3").get_object_tagging(Bucket=get_settings().media_bucket, Key=evidence[0]["Key"])["TagSet"]
    assert {"Key": QUARANTINE_TAG, "Value": "second_upload"} in tags


def _published_file_bytes(user, media_id: str) -> bytes:  # type: ignore[no-untyped-def]
    """The file as publishing presents it to a publisher (`files[].url`), fetched over HTTP."""
    from shared.publishing.items import snapshot

    with session() as s:
        item = Item(user_id=user.id, title="post")
        s.add(item)
        s.flush()
        s.add(ItemFile(item_id=item.id, media_id=uuid.UUID(media_id)))
        item_id = item.id
    _, published = snapshot(item_id)
    [file] = published.files
    return download(file.url).content


def test_a_redelivered_event_after_the_scan_is_a_no_op(alice) -> None:  # type: ignore[no-untyped-def]
    # Given a file scanned ready, and the S3 event that started it
    data = png((32, 32))
    created = request_upload(alice, "again.png", "image/png", len(data))
    post_file(created["upload"], "again.png", data)
    first = drive_ingestion()
    bodies = [m["Body"] for m in first["messages"] if "Records" in m["Body"]]
    before = media(alice, created["media"]["id"])

    # When SQS delivers the same event again (at-least-once)
    from functions.media.handler import handler

    url = get_settings().media_queue_url
    again = handler(sqs_event([sqs_message(b, receive_count=2) for b in bodies], url), LambdaContext("t"))

    # Then nothing changes and the stored object is untouched
    assert again == {"batchItemFailures": []}
    after = media(alice, created["media"]["id"])
    assert {k: v for k, v in after.items() if k != "download_url"} == {
        k: v for k, v in before.items() if k != "download_url"
    }
    assert download(after["download_url"]).content == data


# --- size ---------------------------------------------------------------------------------------------------------


def test_an_upload_larger_than_declared_is_quarantined_size_mismatch(alice) -> None:  # type: ignore[no-untyped-def]
    # Given an upload request for 100 bytes
    data = png((64, 64))
    assert len(data) > 100
    created = request_upload(alice, "small.png", "image/png", 100)

    # When a larger (otherwise valid) PNG is posted with that policy: moto does not enforce content-length-range
    posted = post_file(created["upload"], "small.png", data)
    assert posted.status_code in (200, 201, 204)
    assert drive_ingestion()["batchItemFailures"] == []

    # Then it is quarantined with the reason size_mismatch and never served
    body = media(alice, created["media"]["id"])
    assert (body["status"], body["quarantine_reason"], body["download_url"]) == ("quarantined", "size_mismatch", None)
    assert body["size"] == len(data)
    assert body["declared_size"] == 100
    assert not object_exists(created["upload"]["fields"]["key"])


def test_an_upload_smaller_than_declared_is_quarantined_size_mismatch(alice) -> None:  # type: ignore[no-untyped-def]
    data = png((64, 64))
    created = request_upload(alice, "big.png", "image/png", len(data) + 1)

    post_file(created["upload"], "big.png", data)
    drive_ingestion()

    body = media(alice, created["media"]["id"])
    assert (body["status"], body["quarantine_reason"]) == ("quarantined", "size_mismatch")


# --- downloads ----------------------------------------------------------------------------------------------------


def test_a_file_named_with_emoji_downloads_with_an_rfc_6266_content_disposition(alice) -> None:  # type: ignore[no-untyped-def]
    # Given a file whose name has accents and an emoji, uploaded and ready
    data = png((16, 16))
    created = uploaded_and_ready(alice, "été 📷.png", data)

    # When its download link is fetched over HTTP
    response = download(media(alice, created["media"]["id"])["download_url"])

    # Then the bytes arrive, with an ASCII fallback name and the real name as filename*=UTF-8''…
    assert response.content == data
    disposition = response.headers["Content-Disposition"]
    assert disposition.isascii()
    assert 'filename="ete _.png"' in disposition
    assert unquote(disposition.split("filename*=UTF-8''", 1)[1]) == "été 📷.png"


# --- housekeeping -------------------------------------------------------------------------------------------------


ACCESS_DENIED = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied</Message>'
    b"<RequestId>0</RequestId><HostId>0</HostId></Error>"
)


class _Raw:
    """The raw body of an HTTP response, as botocore reads it."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def test_one_object_s3_refuses_to_delete_does_not_stop_the_sweep(alice) -> None:  # type: ignore[no-untyped-def]
    # Given three ready files whose TTL has passed
    created = [uploaded_and_ready(alice, f"f{i}.png", png((8 + i, 8))) for i in range(3)]
    ids = [uuid.UUID(c["media"]["id"]) for c in created]
    with session() as s:
        s.execute(update(MediaFile).where(MediaFile.id.in_(ids)).values(expires_at=MediaFile.created_at))
        stuck_key = s.get_one(MediaFile, ids[0]).key
    # And S3 answers 403 AccessDenied for one of their objects: the real client sends its request, and the answer
    # S3 gives to a bucket policy denying the delete comes back instead (injected at the network edge)
    s3 = aws.client("s3")

    def deny(request: Any, **_: Any) -> AWSResponse | None:
        if unquote(urlsplit(request.url).path).endswith("/" + stuck_key):
            return AWSResponse(request.url, 403, {"Content-Type": "application/xml"}, _Raw(ACCESS_DENIED))
        return None

    s3.meta.events.register("before-send.s3.DeleteObject", deny)
    try:
        # When the sweep runs, twice (the failing record comes last and fails again)
        first, second = sweep_expired_media(), sweep_expired_media()
    finally:
        s3.meta.events.unregister("before-send.s3.DeleteObject", deny)

    # Then the two others were deleted on the first tick, and the failure was counted, not raised
    assert (first.deleted, first.failed) == (2, [str(ids[0])])
    assert (second.deleted, second.failed) == (0, [str(ids[0])])
    with session() as s:
        rows = {m.id: m for m in s.scalars(select(MediaFile).where(MediaFile.id.in_(ids)))}
    assert [rows[i].status for i in ids] == ["ready", "deleted", "deleted"]
    assert rows[ids[0]].meta["purge_failures"] == 2
    assert object_exists(stuck_key)
    assert not any(object_exists(rows[i].key) for i in ids[1:])
    # And once S3 lets it go, the next tick finishes it
    assert sweep_expired_media().deleted == 1
    assert not object_exists(stuck_key)
