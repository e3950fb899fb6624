"""Seed 000's named tokens as API keys that share a name: the admin lists who holds one and revokes it for
everyone; a revoked key gets 401 at once here, and everywhere once the authentication cache expires."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from shared.db import session
from shared.db.models import ApiKey
from shared.identity import auth
from tests.support.api import ApiClient


def issue(owner, name: str, **body):  # type: ignore[no-untyped-def]
    created = owner.client.post("/v1/api-keys", json_body={"name": name, **body})
    assert created.status == 201, created.json
    return created.json


def test_the_admin_lists_who_holds_a_named_key_and_never_sees_a_key(alice, bob, admin) -> None:  # type: ignore[no-untyped-def]
    until = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
    alices = issue(alice, "partner-feed", until=until.isoformat())
    bobs = issue(bob, "partner-feed")
    issue(bob, "something else")

    listed = admin.client.get("/v1/admin/api-keys", query={"name": "partner-feed"})

    assert listed.status == 200, listed.json
    items = listed.json["items"]
    assert [(k["id"], k["user_email"]) for k in items] == [
        (bobs["id"], "bob@example.com"),
        (alices["id"], "alice@example.com"),
    ]  # newest first
    assert items[1]["user_id"] == str(alice.id)
    assert datetime.fromisoformat(items[1]["until"]) == until
    assert items[0]["until"] is None
    assert alices["key"] not in listed.body.decode()
    assert bobs["key"] not in listed.body.decode()
    assert all("key" not in k and "key_hash" not in k for k in items)
    assert listed.json["next_cursor"] is None


def test_the_admin_list_pages_and_filters_by_user_and_by_whether_keys_still_work(alice, bob, admin) -> None:  # type: ignore[no-untyped-def]
    for i in range(3):
        issue(alice, f"k{i}")
    gone = issue(alice, "gone")
    alice.client.delete(f"/v1/api-keys/{gone['id']}")
    lapsed = issue(bob, "lapsed")
    with session() as s:
        s.execute(update(ApiKey).where(ApiKey.id == lapsed["id"]).values(expires_at=datetime.now(UTC) - timedelta(1)))

    seen, cursor = [], None
    while True:
        query = {"user_id": str(alice.id), "limit": "2"} | ({"cursor": cursor} if cursor else {})
        page = admin.client.get("/v1/admin/api-keys", query=query).json
        seen += [k["name"] for k in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert sorted(seen) == ["gone", "k0", "k1", "k2", "test key"]
    inactive = admin.client.get("/v1/admin/api-keys", query={"active": "false"}).json["items"]
    assert {k["id"] for k in inactive} == {gone["id"], lapsed["id"]}
    active = admin.client.get("/v1/admin/api-keys", query={"active": "true"}).json["items"]
    assert {gone["id"], lapsed["id"]}.isdisjoint(k["id"] for k in active)
    assert admin.client.get("/v1/admin/api-keys", query={"active": "maybe"}).status == 422
    assert admin.client.get("/v1/admin/api-keys", query={"name": "x" * 101}).status == 422


def test_revoking_a_named_key_stops_it_for_everyone_and_only_it(alice, bob, admin) -> None:  # type: ignore[no-untyped-def]
    alices, bobs = issue(alice, "partner-feed"), issue(bob, "partner-feed")
    kept = issue(bob, "partner-feed-2")  # a longer name is another token
    for key in (alices, bobs, kept):
        assert ApiClient(key["key"]).get("/v1/me").status == 200  # now in the authentication cache

    revoked = admin.client.post("/v1/admin/api-keys/revoke", json_body={"name": "partner-feed"})

    assert revoked.status == 200, revoked.json
    assert revoked.json["revoked"] == 2
    assert {k["id"] for k in revoked.json["items"]} == {alices["id"], bobs["id"]}
    assert all(k["revoked_at"] is not None for k in revoked.json["items"])
    assert ApiClient(alices["key"]).get("/v1/me").status == 401
    assert ApiClient(bobs["key"]).get("/v1/me").status == 401
    assert ApiClient(kept["key"]).get("/v1/me").status == 200
    assert alice.client.get("/v1/me").status == 200  # her other keys still work
    again = admin.client.post("/v1/admin/api-keys/revoke", json_body={"name": "partner-feed"})
    assert (again.status, again.json["revoked"], again.json["items"]) == (200, 0, [])
    auth.clear_cache()  # as in another environment once the 60 s cache has run out
    assert ApiClient(alices["key"]).get("/v1/me").status == 401


def test_revoking_by_name_keeps_the_first_revocation_time(alice, admin) -> None:  # type: ignore[no-untyped-def]
    key = issue(alice, "partner-feed")
    first = alice.client.delete(f"/v1/api-keys/{key['id']}").json["revoked_at"]

    admin.client.post("/v1/admin/api-keys/revoke", json_body={"name": "partner-feed"})

    listed = admin.client.get("/v1/admin/api-keys", query={"name": "partner-feed"}).json["items"]
    assert [k["revoked_at"] for k in listed] == [first]


def test_a_member_cannot_use_the_admin_key_routes(alice, bob) -> None:  # type: ignore[no-untyped-def]
    bobs = issue(bob, "partner-feed")

    listed = alice.client.get("/v1/admin/api-keys")
    revoked = alice.client.post("/v1/admin/api-keys/revoke", json_body={"name": "partner-feed"})

    assert (listed.status, listed.error_code) == (403, "forbidden")
    assert (revoked.status, revoked.error_code) == (403, "forbidden")
    assert ApiClient(bobs["key"]).get("/v1/me").status == 200


def test_a_bad_revoke_body_is_422(admin) -> None:  # type: ignore[no-untyped-def]
    for body in ({}, {"name": ""}, {"name": "x" * 101}, {"name": 5}, {"name": "a", "extra": 1}):
        response = admin.client.post("/v1/admin/api-keys/revoke", json_body=body)
        assert response.status == 422, body
