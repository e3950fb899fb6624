"""The first administrator: created by the laptop stack (and by operators) so the instance can be managed."""

from __future__ import annotations

from sqlalchemy import func, select

from shared.db import session
from shared.db.enums import UserRole
from shared.db.models import ApiKey, User
from shared.identity.keys import hash_token, looks_like_api_key, new_api_key, visible_prefix

ADMIN_SCOPES = ["read", "write", "admin"]


def ensure_admin(email: str, raw_key: str | None = None) -> str:
    """Make sure an admin with this email holds a working API key; return that key.

    With `raw_key` (a key issued earlier, e.g. kept by the laptop stack across restarts) that key is registered
    if it is not already; otherwise a new key is issued. Idempotent: calling it twice changes nothing.
    """
    key = raw_key if raw_key and looks_like_api_key(raw_key) else new_api_key(live=False)
    key_hash = hash_token(key)
    with session() as s:
        user = s.scalar(select(User).where(func.lower(User.email) == email.lower()))
        if user is None:
            user = User(email=email, name="Administrator", role=UserRole.ADMIN.value)
            s.add(user)
            s.flush()
        elif user.role != UserRole.ADMIN.value:
            user.role = UserRole.ADMIN.value
        existing = s.scalar(select(ApiKey).where(ApiKey.key_hash == key_hash))
        if existing is None:
            s.add(
                ApiKey(
                    user_id=user.id,
                    name="bootstrap admin key",
                    prefix=visible_prefix(key),
                    key_hash=key_hash,
                    scopes=ADMIN_SCOPES,
                )
            )
        elif existing.user_id != user.id or existing.revoked_at is not None:
            raise ValueError("that API key belongs to another user or was revoked")
    return key
