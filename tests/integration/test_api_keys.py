"""API keys and bearer authentication: shown once, stored hashed, rejected alike when invalid, scopes enforced."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text, update

from shared.db import session
from shared.db.models import ApiKey, User
from shared.identity import auth
from tests.support.api import ApiClient

UNAUTHENTICATED = {"error": {"code": "unauthenticated", "message": "Missing or invalid credentials.", "details": None}}


def test_a_new_key_is_shown_once_and_stored_only_as_a_keyed_hash(alice) -> None:  # type: ignore[no-untyped-def]
    created = alice.client.post("/v1/api-keys", json_body={"name": "ci", "scopes": ["read"]})

    assert created.status == 201
    key = created.json["key"]
    assert key.startswith("cvk_live_")
    assert len(key) >= len("cvk_live_") + 43
    assert created.json["prefix"] == key[: len(created.json["prefix"])]
    with session() as s:
        dump = s.execute(text("SELECT row_to_json(k)::text FROM api_keys k")).scalars().all()
    assert all(key not in row and key[9:] not in row for row in dump)
    listed = alice.client.get("/v1/api-keys")
    assert listed.status == 200
    assert key not in listed.body.decode()
    assert {k["name"] for k in listed.json["items"]} == {"test key", "ci"}
    assert ApiClient(key).get("/v1/api-keys").status == 200


def test_a_test_key_can_be_asked_for(alice) -> None:  # type: ignore[no-untyped-def]
    created = alice.client.post("/v1/api-keys", json_body={"name": "sandbox", "test": True})

    assert created.json["key"].startswith("cvk_test_")
    assert sorted(created.json["scopes"]) == ["read", "write"]


def test_missing_wrong_expired_revoked_and_disabled_credentials_get_the_same_401(alice, bob) -> None:  # type: ignore[no-untyped-def]
    expired = alice.client.post(
        "/v1/api-keys", json_body={"name": "short", "until": (datetime.now(UTC) + timedelta(seconds=30)).isoformat()}
    ).json
    revoked = alice.client.post("/v1/api-keys", json_body={"name": "gone"}).json
    assert alice.client.delete(f"/v1/api-keys/{revoked['id']}").status == 200
    with session() as s:
        s.execute(update(ApiKey).where(ApiKey.id == expired["id"]).values(expires_at=datetime.now(UTC) - timedelta(1)))
        s.execute(update(User).where(User.id == bob.id).values(disabled_at=datetime.now(UTC)))
    auth.clear_cache()  # as if the 60 s cache had run out

    bodies = [
        ApiClient(None).get("/v1/api-keys"),
        ApiClient("cvk_live_" + "x" * 43).get("/v1/api-keys"),
        ApiClient("not-even-a-key").get("/v1/api-keys"),
        ApiClient(expired["key"]).get("/v1/api-keys"),
        ApiClient(revoked["key"]).get("/v1/api-keys"),
        bob.client.get("/v1/api-keys"),
    ]

    assert [r.status for r in bodies] == [401] * 6
    assert all(r.json == UNAUTHENTICATED for r in bodies)
    assert len({r.body for r in bodies}) == 1


def test_a_revoked_key_stops_at_once_in_the_environment_that_revoked_it(alice) -> None:  # type: ignore[no-untyped-def]
    other = alice.client.post("/v1/api-keys", json_body={"name": "other"}).json
    assert ApiClient(other["key"]).get("/v1/api-keys").status == 200  # now cached

    alice.client.delete(f"/v1/api-keys/{other['id']}")

    assert ApiClient(other["key"]).get("/v1/api-keys").status == 401


def test_elsewhere_a_revoked_key_works_until_the_cache_expires_and_never_after(alice) -> None:  # type: ignore[no-untyped-def]
    other = alice.client.post("/v1/api-keys", json_body={"name": "other"}).json
    client = ApiClient(other["key"])
    assert client.get("/v1/api-keys").status == 200
    # Revoked by another execution environment: this one's cache does not know yet.
    with session() as s:
        s.execute(update(ApiKey).where(ApiKey.id == other["id"]).values(revoked_at=datetime.now(UTC)))
    assert client.get("/v1/api-keys").status == 200

    for cached in auth._cache.values():  # the entries' deadline passes (≤ 60 s after the lookup)
        object.__setattr__(cached, "until", 0.0)

    assert client.get("/v1/api-keys").status == 401


def test_scopes_are_enforced_by_method_and_admin_paths(alice, admin) -> None:  # type: ignore[no-untyped-def]
    reader = ApiClient(alice.client.post("/v1/api-keys", json_body={"name": "r", "scopes": ["read"]}).json["key"])
    admin_reader = ApiClient(admin.client.post("/v1/api-keys", json_body={"name": "r", "scopes": ["read"]}).json["key"])

    assert reader.get("/v1/api-keys").status == 200
    denied = reader.post("/v1/api-keys", json_body={"name": "more"})
    assert denied.status == 403
    assert denied.error_code == "forbidden"
    assert alice.client.get("/v1/admin/users").status == 403  # a member, whatever the key says
    assert admin_reader.get("/v1/admin/users").status == 403  # an admin's key without the admin scope
    assert admin.client.get("/v1/admin/users").status != 403


def test_a_key_cannot_grant_more_than_its_creator_has(alice) -> None:  # type: ignore[no-untyped-def]
    response = alice.client.post("/v1/api-keys", json_body={"name": "escalate", "scopes": ["admin"]})

    assert response.status == 422
    with session() as s:
        assert s.scalar(select(ApiKey).where(ApiKey.name == "escalate")) is None


def test_bad_key_requests_are_422_and_store_nothing(alice) -> None:  # type: ignore[no-untyped-def]
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    for body in ({"name": ""}, {"name": "x", "scopes": ["root"]}, {"name": "x", "until": past}, {"name": "x", "a": 1}):
        assert alice.client.post("/v1/api-keys", json_body=body).status == 422, body
    with session() as s:
        assert s.scalars(select(ApiKey.name)).all() == ["test key"]


def test_last_used_at_is_written_at_most_once_a_minute(alice) -> None:  # type: ignore[no-untyped-def]
    with session() as s:
        assert s.scalar(select(ApiKey.last_used_at)) is None
    alice.client.get("/v1/api-keys")
    with session() as s:
        first = s.scalar(select(ApiKey.last_used_at))
    assert first is not None

    auth.clear_cache()
    alice.client.get("/v1/api-keys")
    with session() as s:
        assert s.scalar(select(ApiKey.last_used_at)) == first  # within the minute: not rewritten
        s.execute(update(ApiKey).values(last_used_at=first - timedelta(minutes=2)))
    auth.clear_cache()
    alice.client.get("/v1/api-keys")
    with session() as s:
        assert s.scalar(select(ApiKey.last_used_at)) > first


def test_another_users_key_cannot_be_revoked_and_is_not_found(alice, bob) -> None:  # type: ignore[no-untyped-def]
    bobs = bob.client.post("/v1/api-keys", json_body={"name": "bob's"}).json

    response = alice.client.delete(f"/v1/api-keys/{bobs['id']}")

    assert response.status == 404
    assert ApiClient(bobs["key"]).get("/v1/api-keys").status == 200
