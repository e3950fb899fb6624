"""Users through the API: /v1/me (profile and preferences) and /v1/admin/users, against a real Postgres."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from shared.db import session
from shared.db.models import Session as UserSession
from shared.db.models import User, UserSettings
from shared.identity.auth import clear_cache
from tests.support.api import ApiClient

PASSWORD = "correct horse battery"


# --- /v1/me -----------------------------------------------------------------------------------------------------


def test_me_shows_the_callers_account_with_default_preferences(alice) -> None:  # type: ignore[no-untyped-def]
    # When alice reads her account
    response = alice.client.get("/v1/me")

    # Then she sees her account, the defaults, an empty profile, and no settings row was written for it
    assert response.status == 200
    me = response.json
    assert (me["id"], me["email"], me["role"]) == (str(alice.id), "alice@example.com", "member")
    assert (me["is_verified"], me["timezone"], me["theme"]) == (False, "UTC", "system")
    assert me["default_provider"] is None
    assert me["profile"] == dict.fromkeys(("bio", "city", "region", "country", "postal_code", "latitude", "longitude"))
    assert "password_hash" not in me
    with session() as s:
        assert s.get(UserSettings, alice.id) is None


def test_patch_me_changes_only_the_fields_sent(alice) -> None:  # type: ignore[no-untyped-def]
    # When alice sets her name, time zone, theme, defaults and part of her profile
    response = alice.client.patch(
        "/v1/me",
        json_body={
            "name": "Alice A.",
            "timezone": "Europe/Paris",
            "theme": "dark",
            "default_provider": "openai",
            "default_model": "gpt-4o",
            "profile": {"bio": "Makes videos.", "city": "Lyon", "country": "FR", "latitude": 45.76, "longitude": 4.83},
        },
    )

    # Then they are stored (the settings row created on demand) and shown
    assert response.status == 200, response.json
    me = response.json
    assert (me["name"], me["timezone"], me["theme"]) == ("Alice A.", "Europe/Paris", "dark")
    assert (me["default_provider"], me["default_model"]) == ("openai", "gpt-4o")
    assert me["profile"]["city"] == "Lyon"
    assert me["profile"]["region"] is None

    # When she later clears her bio and changes only the theme
    again = alice.client.patch("/v1/me", json_body={"theme": "light", "profile": {"bio": None}})

    # Then everything else is kept
    assert again.status == 200
    assert again.json["theme"] == "light"
    assert again.json["profile"]["bio"] is None
    assert again.json["profile"]["city"] == "Lyon"
    assert again.json["timezone"] == "Europe/Paris"
    assert alice.client.get("/v1/me").json == again.json


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"timezone": "Mars/Olympus_Mons"}, "invalid_timezone"),
        ({"timezone": None}, "invalid_timezone"),
        ({"theme": "purple"}, "validation_failed"),
        ({"theme": None}, "invalid_input"),
        ({"profile": {"latitude": 91}}, "validation_failed"),
        ({"profile": {"longitude": -180.5}}, "validation_failed"),
        ({"role": "admin"}, "validation_failed"),
        ({"email": "new@example.com"}, "validation_failed"),
        ({"profile": {"avatar": "x"}}, "validation_failed"),
    ],
)
def test_patch_me_rejects_bad_values_and_unknown_fields_and_changes_nothing(
    alice,  # type: ignore[no-untyped-def]
    body: dict[str, object],
    code: str,
) -> None:
    # When alice sends an invalid change
    response = alice.client.patch("/v1/me", json_body=body)

    # Then it is 422 and her account is as before
    assert response.status == 422, response.json
    assert response.error_code == code
    me = alice.client.get("/v1/me").json
    assert (me["role"], me["email"], me["timezone"], me["theme"]) == ("member", "alice@example.com", "UTC", "system")


# --- /v1/admin/users --------------------------------------------------------------------------------------------


def test_admin_creates_a_user_who_can_log_in(admin) -> None:  # type: ignore[no-untyped-def]
    # When the admin creates a member with a password
    response = admin.client.post(
        "/v1/admin/users", json_body={"email": " Erin@Example.com", "name": "Erin", "password": PASSWORD}
    )

    # Then the member exists, unverified, with an argon2id hash, and can log in
    assert response.status == 201, response.json
    created = response.json
    assert (created["email"], created["role"], created["disabled"]) == ("Erin@Example.com", "member", False)
    assert (created["is_verified"], created["has_password"]) == (False, True)
    with session() as s:
        assert s.get(User, uuid.UUID(created["id"])).password_hash.startswith("$argon2id$")
    login = ApiClient().post("/v1/auth/login", json_body={"email": "erin@example.com", "password": PASSWORD})
    assert login.status == 200
    assert ApiClient(login.json["token"]).get("/v1/me").json["id"] == created["id"]

    # And creating the same address again conflicts
    again = admin.client.post("/v1/admin/users", json_body={"email": "ERIN@example.com"})
    assert again.status == 409
    assert again.error_code == "email_taken"


def test_admin_lists_users_with_filters_and_pages(admin, make_user) -> None:  # type: ignore[no-untyped-def]
    # Given the admin, three members and one disabled member
    members = [make_user() for _ in range(3)]
    disabled = make_user()
    assert admin.client.patch(f"/v1/admin/users/{disabled.id}", json_body={"disabled": True}).status == 200

    # When the admin lists with filters
    admins = admin.client.get("/v1/admin/users", query={"role": "admin"}).json["items"]
    off = admin.client.get("/v1/admin/users", query={"disabled": "true"}).json["items"]
    active_members = admin.client.get("/v1/admin/users", query={"role": "member", "disabled": "false"}).json["items"]

    # Then each filter applies
    assert [u["id"] for u in admins] == [str(admin.id)]
    assert [u["id"] for u in off] == [str(disabled.id)]
    assert {u["id"] for u in active_members} == {str(m.id) for m in members}

    # When the admin pages through everyone two at a time
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        query = {"limit": "2"} | ({"cursor": cursor} if cursor else {})
        page = admin.client.get("/v1/admin/users", query=query)
        assert page.status == 200, page.json
        seen += [u["id"] for u in page.json["items"]]
        pages += 1
        cursor = page.json["next_cursor"]
        if cursor is None:
            break

    # Then every user appears exactly once, across three pages
    assert pages == 3
    assert sorted(seen) == sorted({str(admin.id), str(disabled.id), *(str(m.id) for m in members)})
    assert len(seen) == 5


def test_admin_gets_one_user_and_an_unknown_id_is_404(admin, alice) -> None:  # type: ignore[no-untyped-def]
    assert admin.client.get(f"/v1/admin/users/{alice.id}").json["email"] == "alice@example.com"
    missing = admin.client.get(f"/v1/admin/users/{uuid.uuid4()}")
    assert missing.status == 404


def test_members_cannot_use_the_admin_routes(alice, bob) -> None:  # type: ignore[no-untyped-def]
    # When a member lists, creates or disables users
    responses = [
        alice.client.get("/v1/admin/users"),
        alice.client.post("/v1/admin/users", json_body={"email": "x@example.com"}),
        alice.client.patch(f"/v1/admin/users/{bob.id}", json_body={"disabled": True}),
        alice.client.patch("/v1/admin/instance-settings", json_body={"signup_enabled": False}),
    ]

    # Then each is 403 and bob is untouched
    assert [r.status for r in responses] == [403, 403, 403, 403]
    assert bob.client.get("/v1/me").status == 200


def test_disabling_a_user_cuts_off_their_api_keys_and_sessions(admin, alice) -> None:  # type: ignore[no-untyped-def]
    # Given alice with a password, a live session and a working (cached) API key
    with session() as s:
        from shared.identity.passwords import hash_password

        s.get(User, alice.id).password_hash = hash_password(PASSWORD)
    login = ApiClient().post("/v1/auth/login", json_body={"email": alice.email, "password": PASSWORD})
    session_client = ApiClient(login.json["token"])
    assert session_client.get("/v1/me").status == 200
    assert alice.client.get("/v1/me").status == 200  # now in the auth cache

    # When the admin disables her
    response = admin.client.patch(f"/v1/admin/users/{alice.id}", json_body={"disabled": True})
    # (This environment forgets cached credentials on disable; other Lambda environments keep them for up to
    # 60 s. clear_cache() stands in for those 60 s passing there — the assertions hold either way here.)
    clear_cache()

    # Then her key and her session are refused, her sessions are revoked, and she cannot log in
    assert response.status == 200, response.json
    assert response.json["disabled"] is True
    assert alice.client.get("/v1/me").status == 401
    assert session_client.get("/v1/me").status == 401
    with session() as s:
        assert all(row.revoked_at is not None for row in s.scalars(select(UserSession)))
    relogin = ApiClient().post("/v1/auth/login", json_body={"email": alice.email, "password": PASSWORD})
    assert relogin.status == 401

    # When the admin enables her again
    enabled = admin.client.patch(f"/v1/admin/users/{alice.id}", json_body={"disabled": False})

    # Then her API key works again (sessions stay ended: she logs in anew)
    assert enabled.status == 200
    assert enabled.json["disabled"] is False
    assert alice.client.get("/v1/me").status == 200
    assert session_client.get("/v1/me").status == 401


def test_disabling_takes_effect_in_this_environment_without_clearing_the_cache(admin, alice) -> None:  # type: ignore[no-untyped-def]
    # Given alice's key is cached by authentication
    assert alice.client.get("/v1/me").status == 200

    # When the admin disables her (no clear_cache() in the test)
    admin.client.patch(f"/v1/admin/users/{alice.id}", json_body={"disabled": True})

    # Then her next request here is already refused
    assert alice.client.get("/v1/me").status == 401


def test_an_admin_cannot_disable_or_demote_themselves(admin) -> None:  # type: ignore[no-untyped-def]
    disable = admin.client.patch(f"/v1/admin/users/{admin.id}", json_body={"disabled": True})
    demote = admin.client.patch(f"/v1/admin/users/{admin.id}", json_body={"role": "member"})

    assert (disable.status, disable.error_code) == (422, "cannot_modify_self")
    assert (demote.status, demote.error_code) == (422, "cannot_modify_self")
    assert admin.client.get("/v1/admin/users").status == 200


def test_an_admin_changes_a_users_role_and_it_applies_at_once(admin, make_user) -> None:  # type: ignore[no-untyped-def]
    # Given a member whose key already carries the admin scope (scopes narrow keys; the role decides)
    carol = make_user(scopes=["read", "write", "admin"])
    assert carol.client.get("/v1/admin/users").status == 403

    # When the admin promotes her
    promoted = admin.client.patch(f"/v1/admin/users/{carol.id}", json_body={"role": "admin"})

    # Then she is an admin on her next request
    assert promoted.json["role"] == "admin"
    assert carol.client.get("/v1/admin/users").status == 200


def test_admin_reads_and_changes_the_signup_switch(admin) -> None:  # type: ignore[no-untyped-def]
    # Given no instance settings row: the environment default (open)
    assert admin.client.get("/v1/admin/instance-settings").json == {
        "signup_enabled": True,
        "team_invites_enabled": None,
    }

    # When the admin closes sign-up
    closed = admin.client.patch("/v1/admin/instance-settings", json_body={"signup_enabled": False})

    # Then it is closed, and a public sign-up is refused
    assert closed.json["signup_enabled"] is False
    signup = ApiClient().post(
        "/v1/auth/signup", json_body={"email": "new@example.com", "password": PASSWORD, "name": "New"}
    )
    assert (signup.status, signup.error_code) == (403, "signup_disabled")


def test_the_create_admin_command_prints_a_working_admin_key_once(db, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    from shared.identity.cli import main

    # When an operator runs `python -m shared.identity.cli create-admin --email ops@example.com`
    assert main(["create-admin", "--email", "ops@example.com"]) == 0

    # Then the printed key is an admin's key (stored only hashed) that works on admin routes
    key = capsys.readouterr().out.strip().splitlines()[-1]
    assert key.startswith("cvk_test_")
    clear_cache()
    response = ApiClient(key).get("/v1/admin/users")
    assert response.status == 200
    assert [u["email"] for u in response.json["items"]] == ["ops@example.com"]
