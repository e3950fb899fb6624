"""Sign-up, e-mail verification (SES in moto), login and logout through the API, against a real Postgres."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, update

from shared.db import session
from shared.db.models import OneTimeToken, User
from shared.db.models import Session as UserSession
from shared.identity import sessions
from shared.identity.auth import clear_cache
from shared.identity.keys import hash_token
from shared.identity.settings import update_instance_settings
from tests.support.api import ApiClient, ApiResponse

PASSWORD = "correct horse battery"
UNAUTHENTICATED = (
    b'{"error": {"code": "unauthenticated", "message": "Missing or invalid credentials.", "details": null}}'
)


def sent_emails() -> list[Any]:
    """What moto's SES 'sent' (moto's documented internal API for inspecting sent mail)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    return list(ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages)


def token_from(message: Any) -> str:
    match = re.search(r"/verify\?token=(\S+)", message.body)
    assert match, "the e-mail carries a verification link"
    return unquote(match.group(1))


def sign_up(email: str = "carol@example.com", password: str = PASSWORD, name: str = "Carol") -> ApiResponse:
    return ApiClient().post("/v1/auth/signup", json_body={"email": email, "password": password, "name": name})


def log_in(email: str, password: str = PASSWORD, **headers: str) -> ApiResponse:
    return ApiClient().post("/v1/auth/login", json_body={"email": email, "password": password}, headers=headers)


@pytest.fixture
def env(db, aws_env):  # type: ignore[no-untyped-def]
    """A database and moto with Conveyor's resources (the SES sender identity among them); a cold auth cache."""
    clear_cache()
    yield
    clear_cache()


# --- sign-up and verification -----------------------------------------------------------------------------------


@pytest.mark.usefixtures("env")
def test_signup_sends_a_verification_email_whose_token_verifies_the_address() -> None:
    # Given open sign-up (no instance settings row: the default)
    # When someone signs up
    response = sign_up(email="  Carol@Example.com ")

    # Then a member is created, unverified and not signed in, and one e-mail went to them from the sender
    assert response.status == 201, response.json
    account = response.json
    assert (account["email"], account["role"], account["is_verified"]) == ("Carol@Example.com", "member", False)
    assert "token" not in account
    [message] = sent_emails()
    assert message.destinations["ToAddresses"] == ["Carol@Example.com"]
    assert message.source == "no-reply@conveyor.local"
    token = token_from(message)
    assert message.body.count(token) == 1
    with session() as s:
        stored = s.scalars(select(OneTimeToken)).one()
    assert stored.token_hash == hash_token(token) != token
    assert stored.purpose == "verify_email"

    # When the link's token is used
    verified = ApiClient().post("/v1/auth/verify", json_body={"token": token})

    # Then the address is verified, and the user sees it on /v1/me after logging in
    assert verified.status == 200, verified.json
    assert verified.json["is_verified"] is True
    login = log_in("carol@example.com")
    assert login.status == 200, login.json
    me = ApiClient(login.json["token"]).get("/v1/me")
    assert me.json["is_verified"] is True


@pytest.mark.usefixtures("env")
def test_a_verification_token_works_once_and_unknown_reused_or_expired_tokens_get_the_same_answer() -> None:
    # Given two sign-ups, one of whose tokens has expired
    sign_up(email="one@example.com")
    sign_up(email="two@example.com")
    first, second = (token_from(m) for m in sent_emails())
    with session() as s:
        s.execute(
            update(OneTimeToken)
            .where(OneTimeToken.token_hash == hash_token(second))
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    client = ApiClient()

    # When the first token is used twice, the expired one once, and a made-up one once
    used = client.post("/v1/auth/verify", json_body={"token": first})
    reused = client.post("/v1/auth/verify", json_body={"token": first})
    expired = client.post("/v1/auth/verify", json_body={"token": second})
    unknown = client.post("/v1/auth/verify", json_body={"token": "not-a-token"})

    # Then only the first use succeeds; the others are one identical 422 invalid_token
    assert used.status == 200
    assert reused.status == expired.status == unknown.status == 422
    assert reused.error_code == "invalid_token"
    assert reused.body == expired.body == unknown.body
    with session() as s:
        verified = {u.email: u.email_verified_at is not None for u in s.scalars(select(User))}
    assert verified == {"one@example.com": True, "two@example.com": False}


@pytest.mark.usefixtures("env")
def test_signup_is_refused_when_the_instance_closes_it() -> None:
    # Given an instance whose admin closed sign-up
    update_instance_settings(signup_enabled=False)

    # When someone signs up
    response = sign_up()

    # Then it is forbidden, no user exists and no e-mail was sent
    assert response.status == 403
    assert response.error_code == "signup_disabled"
    with session() as s:
        assert s.scalars(select(User)).all() == []
    assert sent_emails() == []


@pytest.mark.usefixtures("env")
def test_signing_up_twice_with_the_same_address_in_any_case_conflicts() -> None:
    # Given an account for carol@example.com
    assert sign_up(email="carol@example.com").status == 201

    # When the same address signs up again, differently cased
    again = sign_up(email="CAROL@example.COM")

    # Then it is 409 email_taken and no second e-mail went out
    assert again.status == 409
    assert again.error_code == "email_taken"
    assert len(sent_emails()) == 1


@pytest.mark.usefixtures("env")
def test_passwords_are_stored_as_argon2id_hashes_never_in_clear() -> None:
    # When someone signs up
    sign_up()

    # Then the row holds an argon2id hash, not the password
    with session() as s:
        user = s.scalars(select(User)).one()
    assert user.password_hash is not None
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash


@pytest.mark.usefixtures("env")
@pytest.mark.parametrize("password", ["short", "x" * 257])
def test_signup_rejects_passwords_outside_10_to_256_characters(password: str) -> None:
    response = sign_up(password=password)

    assert response.status == 422
    assert sent_emails() == []


# --- login and logout -------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("env")
def test_login_gives_a_session_token_that_works_until_logout() -> None:
    # Given a signed-up user
    sign_up()

    # When they log in
    login = log_in("carol@example.com", **{"User-Agent": "pytest-browser/1.0"})

    # Then they get a session token with its expiry, and the session records agent, IP and last seen
    assert login.status == 200, login.json
    token = login.json["token"]
    assert token.startswith("cvs_")
    assert login.json["session"]["user_agent"] == "pytest-browser/1.0"
    assert login.json["session"]["ip_address"] == "127.0.0.1"
    with session() as s:
        row = s.scalars(select(UserSession)).one()
        user = s.scalars(select(User)).one()
    assert row.token_hash == hash_token(token)
    assert timedelta(hours=23) < row.expires_at - datetime.now(UTC) <= timedelta(hours=24)
    assert row.last_seen_at is not None
    assert user.last_login_at is not None

    # And the token authenticates
    client = ApiClient(token)
    assert client.get("/v1/me").json["email"] == "carol@example.com"

    # When they log out
    logout = client.post("/v1/auth/logout")

    # Then the session ends at once (no waiting out the auth cache) and logging out again is 401
    assert logout.status == 204
    assert logout.body == b""
    after = client.get("/v1/me")
    assert after.status == 401
    assert after.body == UNAUTHENTICATED
    assert client.post("/v1/auth/logout").status == 401


@pytest.mark.usefixtures("env")
def test_every_login_or_session_failure_gives_the_same_401_body(make_user) -> None:  # type: ignore[no-untyped-def]
    # Given a user with a password, a disabled user with the same password, and a live session about to expire
    sign_up(email="carol@example.com")
    sign_up(email="dave@example.com")
    with session() as s:
        s.execute(update(User).where(User.email == "dave@example.com").values(disabled_at=datetime.now(UTC)))
    expiring = log_in("carol@example.com").json["token"]
    with session() as s:
        s.execute(update(UserSession).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    clear_cache()  # stands in for the <= 60 s the auth cache may keep the session

    # When logins fail in every way, and the expired session is used
    failures = {
        "wrong password": log_in("carol@example.com", "wrong password!"),
        "unknown email": log_in("nobody@example.com"),
        "disabled user": log_in("dave@example.com"),
        "user without password": log_in(make_user(email="keys-only@example.com").email),
        "expired session": ApiClient(expiring).get("/v1/me"),
        "made-up session": ApiClient("cvs_" + "A" * 43).get("/v1/me"),
    }

    # Then each is 401 with byte-identical bodies
    assert {name: r.status for name, r in failures.items()} == dict.fromkeys(failures, 401)
    assert {name: r.body for name, r in failures.items()} == dict.fromkeys(failures, UNAUTHENTICATED)


@pytest.mark.usefixtures("env")
def test_login_for_an_unknown_email_still_runs_a_password_verify(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a spy on the password check
    calls: list[tuple[str | None, str]] = []
    real = sessions.verify_password

    def spy(password_hash: str | None, password: str) -> bool:
        calls.append((password_hash, password))
        return real(password_hash, password)

    monkeypatch.setattr(sessions, "verify_password", spy)

    # When an unknown email logs in
    response = log_in("nobody@example.com")

    # Then it fails, but only after the same (dummy) argon2 verify a real account costs
    assert response.status == 401
    assert calls == [(None, PASSWORD)]


@pytest.mark.usefixtures("env")
def test_login_rehashes_a_password_hashed_with_old_parameters() -> None:
    # Given a user whose hash was made with weaker parameters than today's
    sign_up()
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    with session() as s:
        s.execute(update(User).values(password_hash=weak))

    # When they log in
    assert log_in("carol@example.com").status == 200

    # Then the stored hash was upgraded and still matches
    with session() as s:
        upgraded = s.scalars(select(User)).one().password_hash
    assert upgraded != weak
    assert upgraded.startswith("$argon2id$")
    assert PasswordHasher().verify(upgraded, PASSWORD)


@pytest.mark.usefixtures("env")
def test_a_short_password_set_under_older_rules_still_logs_in_and_is_rehashed() -> None:
    # Given an imported account whose old-parameter hash is of a password shorter than today's minimum
    sign_up()
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("short")
    with session() as s:
        s.execute(update(User).values(password_hash=weak))

    # When they log in with it, then it works (the rules apply to new passwords only) and the hash is upgraded
    assert log_in("carol@example.com", "short").status == 200
    with session() as s:
        assert s.scalars(select(User)).one().password_hash != weak


@pytest.mark.usefixtures("env")
def test_logout_with_an_api_key_is_refused_and_revokes_nothing(alice) -> None:  # type: ignore[no-untyped-def]
    # When a caller authenticated by API key calls logout
    response = alice.client.post("/v1/auth/logout")

    # Then it is 422 not_a_session and the key keeps working
    assert response.status == 422
    assert response.error_code == "not_a_session"
    assert alice.client.get("/v1/me").status == 200
