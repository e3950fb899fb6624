"""The bootstrap admin: created once, with a key that is stored only as a keyed hash."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.engine import URL

from shared.db import session
from shared.db.models import ApiKey, User
from shared.identity.admin import ensure_admin
from shared.identity.keys import hash_token, looks_like_api_key, new_api_key, visible_prefix


def test_ensure_admin_creates_an_admin_with_a_hashed_key(db: URL) -> None:
    key = ensure_admin("Admin@Localhost")

    assert looks_like_api_key(key)
    with session() as s:
        user = s.scalars(select(User)).one()
        stored = s.scalars(select(ApiKey)).one()
    assert (user.email, user.role) == ("Admin@Localhost", "admin")
    assert stored.key_hash == hash_token(key) != key
    assert stored.prefix == visible_prefix(key)
    assert key.startswith(stored.prefix)
    assert set(stored.scopes) == {"read", "write", "admin"}


def test_ensure_admin_is_idempotent_and_keeps_a_given_key(db: URL) -> None:
    kept = new_api_key(live=False)

    assert ensure_admin("admin@localhost", kept) == kept
    assert ensure_admin("ADMIN@localhost", kept) == kept

    with session() as s:
        assert s.scalar(select(func.count()).select_from(User)) == 1
        assert s.scalar(select(func.count()).select_from(ApiKey)) == 1


def test_api_keys_have_the_documented_shape() -> None:
    live, test = new_api_key(), new_api_key(live=False)

    assert live.startswith("cvk_live_")
    assert test.startswith("cvk_test_")
    assert len(live) == len("cvk_live_") + 43
    assert looks_like_api_key(live)
    assert not looks_like_api_key(live[:-1])
    assert not looks_like_api_key("cvk_live_!")
    assert new_api_key() != new_api_key()
