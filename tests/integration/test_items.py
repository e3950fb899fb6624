"""Items API: create/list/get/update/delete with validation and isolation, ordered files, schedule/unschedule.

Real Postgres, moto S3. A media file is made ready the way ingestion would (its code is tested elsewhere).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from shared.db import session
from shared.db.enums import MediaKind, MediaStatus
from shared.db.models import Item, MediaFile
from shared.media.status import set_status
from tests.support.users import TestUser

pytestmark = pytest.mark.usefixtures("aws_env")


def ready_media(user: TestUser, filename: str = "page.png") -> str:
    """A media file of `user` that passed inspection."""
    r = user.client.post("/v1/media", json_body={"filename": filename, "content_type": "image/png", "size": 1234})
    assert r.status == 201, r.json
    media_id = r.json["media"]["id"]
    with session() as s:
        s.execute(
            update(MediaFile)
            .where(MediaFile.id == uuid.UUID(media_id))
            .values(kind=MediaKind.IMAGE.value, content_type="image/png", width=640, height=480)
        )
        assert set_status(s, uuid.UUID(media_id), MediaStatus.READY)
    return media_id


def new_item(user: TestUser, **fields: object) -> dict:
    r = user.client.post("/v1/items", json_body={"title": "Sunset"} | fields)
    assert r.status == 201, r.json
    return r.json


def future(minutes: int = 60) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()


# --- CRUD -------------------------------------------------------------------------------------------------------


def test_create_with_settings_then_read_list_update_and_delete(alice) -> None:  # type: ignore[no-untyped-def]
    # Given a member, When she creates an item with metadata and settings
    item = new_item(
        alice,
        description="a sunset",
        tags=["sky", "orange"],
        category_path="digitalart/paintings",
        settings={"is_mature": True, "mature_level": "moderate", "allow_comments": False, "display_resolution": 3},
    )

    # Then it is a draft with those values and seed 002's defaults elsewhere
    assert item["status"] == "draft"
    assert item["tags"] == ["sky", "orange"]
    assert item["settings"] | {} == {
        "is_mature": True,
        "mature_level": "moderate",
        "allow_comments": False,
        "allow_free_download": False,
        "is_ai_generated": False,
        "no_ai": False,
        "remote_draft_only": False,
        "add_watermark": False,
        "display_resolution": 3,
        "upload_mode": "single",
    }
    assert item["files"] == []
    assert item["remote_id"] is None

    # When she reads, lists and edits it
    got = alice.client.get(f"/v1/items/{item['id']}").json
    listed = alice.client.get("/v1/items", query={"status": "draft"}).json
    patched = alice.client.patch(
        f"/v1/items/{item['id']}", json_body={"title": "Dusk", "settings": {"mature_level": None}}
    )

    # Then she sees the same item, and the edit changed only what she sent
    assert got["id"] == item["id"]
    assert [i["id"] for i in listed["items"]] == [item["id"]]
    assert patched.status == 200, patched.json
    assert patched.json["title"] == "Dusk"
    assert patched.json["settings"]["mature_level"] is None
    assert patched.json["settings"]["is_mature"] is True
    assert patched.json["tags"] == ["sky", "orange"]

    # When she deletes it, Then it is gone
    assert alice.client.delete(f"/v1/items/{item['id']}").status == 204
    assert alice.client.get(f"/v1/items/{item['id']}").status == 404


def test_review_items_are_accepted_into_draft(alice) -> None:  # type: ignore[no-untyped-def]
    item = new_item(alice, status="review")
    assert item["status"] == "review"

    accepted = alice.client.patch(f"/v1/items/{item['id']}", json_body={"status": "draft"})
    again = alice.client.patch(f"/v1/items/{item['id']}", json_body={"status": "draft"})

    assert accepted.json["status"] == "draft"
    assert again.status == 409
    assert again.error_code == "item_status_conflict"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"title": ""},
        {"title": "x", "settings": {"mature_level": "extreme"}},
        {"title": "x", "settings": {"display_resolution": 9}},
        {"title": "x", "settings": {"upload_mode": "zip"}},
        {"title": "x", "status": "published"},
        {"title": "x", "surprise": 1},
        {"title": "x", "tags": ["ok", ""]},
    ],
)
def test_bad_input_is_a_422_and_creates_nothing(alice, body) -> None:  # type: ignore[no-untyped-def]
    r = alice.client.post("/v1/items", json_body=body)

    assert r.status == 422, r.json
    assert alice.client.get("/v1/items").json["items"] == []


def test_list_filters_and_pages_with_a_cursor(alice) -> None:  # type: ignore[no-untyped-def]
    project = alice.client.post("/v1/projects", json_body={"name": "P"}).json
    ids = [new_item(alice, title=f"t{i}", project_id=project["id"] if i % 2 else None)["id"] for i in range(5)]

    first = alice.client.get("/v1/items", query={"limit": "3"}).json
    second = alice.client.get("/v1/items", query={"limit": "3", "cursor": first["next_cursor"]}).json
    in_project = alice.client.get("/v1/items", query={"project_id": project["id"]}).json

    assert [i["id"] for i in first["items"] + second["items"]] == list(reversed(ids))
    assert second["next_cursor"] is None
    assert sorted(i["id"] for i in in_project["items"]) == sorted(ids[1::2])
    assert alice.client.get("/v1/items", query={"cursor": "garbage"}).status == 422


def test_other_users_items_media_and_projects_are_not_found(alice, bob) -> None:  # type: ignore[no-untyped-def]
    item = new_item(alice)
    bobs_media = ready_media(bob)
    bobs_project = bob.client.post("/v1/projects", json_body={"name": "B"}).json

    # Bob cannot see, change, schedule or delete Alice's item, nor list it
    path = f"/v1/items/{item['id']}"
    assert bob.client.get(path).status == 404
    assert bob.client.patch(path, json_body={"title": "mine"}).status == 404
    assert bob.client.post(f"{path}/schedule", json_body={"scheduled_at": future()}).status == 404
    assert bob.client.post(f"{path}/publish-now").status == 404
    assert bob.client.delete(path).status == 404
    assert bob.client.get("/v1/items").json["items"] == []
    # Alice cannot attach Bob's media nor file her item under Bob's project
    assert alice.client.post(f"{path}/files", json_body={"media_id": bobs_media}).status == 404
    assert alice.client.patch(path, json_body={"project_id": bobs_project["id"]}).status == 404
    assert alice.client.get(path).json["title"] == "Sunset"


# --- files ------------------------------------------------------------------------------------------------------


def test_files_keep_their_order_and_only_ready_media_attach(alice) -> None:  # type: ignore[no-untyped-def]
    item = new_item(alice)
    path = f"/v1/items/{item['id']}/files"
    a, b, c = ready_media(alice, "a.png"), ready_media(alice, "b.png"), ready_media(alice, "c.png")

    # When she attaches a, then b, then c at the front
    assert alice.client.post(path, json_body={"media_id": a}).status == 201
    assert alice.client.post(path, json_body={"media_id": b}).status == 201
    r = alice.client.post(path, json_body={"media_id": c, "sort_order": 0})

    # Then the files come in sort order (c shares 0 with a but was added later) and the media are attached
    assert [f["filename"] for f in r.json["files"]] == ["a.png", "c.png", "b.png"]
    assert [f["sort_order"] for f in r.json["files"]] == [0, 0, 1]
    assert alice.client.get(f"/v1/media/{a}").json["status"] == "attached"
    # The same file twice is a conflict; a file still uploading cannot be attached
    assert alice.client.post(path, json_body={"media_id": a}).error_code == "file_already_attached"
    uploading = alice.client.post(
        "/v1/media", json_body={"filename": "x.png", "content_type": "image/png", "size": 10}
    ).json["media"]["id"]
    assert alice.client.post(path, json_body={"media_id": uploading}).error_code == "media_not_ready"

    # When she removes b, Then a and c remain
    removed = alice.client.delete(f"{path}/{b}")
    assert [f["filename"] for f in removed.json["files"]] == ["a.png", "c.png"]
    assert alice.client.delete(f"{path}/{b}").status == 404


# --- scheduling -------------------------------------------------------------------------------------------------


def test_schedule_with_jitter_then_unschedule_back_to_draft(alice) -> None:  # type: ignore[no-untyped-def]
    item = new_item(alice)
    path = f"/v1/items/{item['id']}"
    when = datetime.now(UTC) + timedelta(hours=2)

    # A draft without files cannot be scheduled
    assert alice.client.post(f"{path}/schedule", json_body={"scheduled_at": when.isoformat()}).status == 409
    alice.client.post(f"{path}/files", json_body={"media_id": ready_media(alice)})

    # When she schedules it with up to 10 minutes of jitter
    r = alice.client.post(f"{path}/schedule", json_body={"scheduled_at": when.isoformat(), "jitter_seconds": 600})

    # Then it is scheduled, and actual_publish_at = scheduled_at + the drawn jitter
    assert r.status == 200, r.json
    body = r.json
    scheduled_at = datetime.fromisoformat(body["scheduled_at"])
    actual = datetime.fromisoformat(body["actual_publish_at"])
    assert body["status"] == "scheduled"
    assert 0 <= body["jitter_seconds"] <= 600
    assert actual - scheduled_at == timedelta(seconds=body["jitter_seconds"])

    # When she unschedules it, Then it is a draft without times; unscheduling again is a conflict
    r = alice.client.post(f"{path}/unschedule")
    assert (r.json["status"], r.json["scheduled_at"], r.json["actual_publish_at"]) == ("draft", None, None)
    assert alice.client.post(f"{path}/unschedule").error_code == "item_status_conflict"


def test_schedule_refuses_the_past_and_naive_times(alice) -> None:  # type: ignore[no-untyped-def]
    item = new_item(alice)
    path = f"/v1/items/{item['id']}/schedule"
    alice.client.post(f"/v1/items/{item['id']}/files", json_body={"media_id": ready_media(alice)})

    past = alice.client.post(path, json_body={"scheduled_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat()})
    naive = alice.client.post(path, json_body={"scheduled_at": "2030-01-01T10:00:00"})
    jitter = alice.client.post(path, json_body={"scheduled_at": future(), "jitter_seconds": -1})

    assert (past.status, past.error_code) == (422, "scheduled_at_in_past")
    assert naive.status == 422
    assert jitter.status == 422
    assert alice.client.get(f"/v1/items/{item['id']}").json["status"] == "draft"


def test_published_and_publishing_items_cannot_be_edited_or_deleted(alice) -> None:  # type: ignore[no-untyped-def]
    item = new_item(alice)
    path = f"/v1/items/{item['id']}"
    with session() as s:
        s.execute(update(Item).where(Item.id == uuid.UUID(item["id"])).values(status="publishing"))

    assert alice.client.patch(path, json_body={"title": "late edit"}).status == 409
    assert alice.client.delete(path).status == 409
    assert alice.client.post(f"{path}/schedule", json_body={"scheduled_at": future()}).status == 409
    assert alice.client.post(f"{path}/files", json_body={"media_id": ready_media(alice)}).status == 409
    assert alice.client.get(path).json["title"] == "Sunset"
