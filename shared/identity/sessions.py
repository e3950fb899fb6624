"""Sign-in sessions: email + password in, a bearer session token out; logout ends it at once.

Every failed login — unknown email, wrong password, password-less or disabled account — raises the same
`Unauthenticated` with the same message, and costs the same argon2 verify, so neither the body nor the timing tells
an attacker which emails exist. The token (`cvs_…`, 256 bits) is stored as its keyed hash only; sessions last
`CONVEYOR_SESSION_TTL_HOURS` (default 24 h, fixed, not sliding), and `last_seen_at` is kept by authentication.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from shared.config import get_settings
from shared.db import session
from shared.db.models import Session as UserSession
from shared.db.models import User
from shared.errors import InvalidInput, Unauthenticated
from shared.identity import auth
from shared.identity.keys import hash_token, new_session_token
from shared.identity.passwords import hash_password, needs_rehash, verify_password
from shared.identity.principal import Principal

USER_AGENT_MAX = 512


@dataclass(frozen=True)
class StartedSession:
    session: UserSession
    token: str  # returned to the caller once, never stored


def login(email: str, password: str, *, user_agent: str | None = None, ip_address: str | None = None) -> StartedSession:
    """Check the credentials and open a session; any failure is the one `Unauthenticated(auth.INVALID)`."""
    with session() as s:
        user = s.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    # Outside the transaction: argon2 is deliberately slow and must not hold a connection. It runs for unknown and
    # disabled users too (against a dummy hash when there is none), so every failure takes the same time.
    password_ok = verify_password(user.password_hash if user else None, password)
    if user is None or not password_ok or user.disabled_at is not None:
        raise Unauthenticated(auth.INVALID)

    old_hash = user.password_hash
    rehashed = hash_password(password, enforce_rules=False) if old_hash and needs_rehash(old_hash) else None
    token = new_session_token()
    now = datetime.now(UTC)
    with session() as s:
        # Re-check in the same transaction that opens the session: the user may have been disabled meanwhile.
        still_allowed = s.execute(
            update(User)
            .where(User.id == user.id, User.disabled_at.is_(None))
            .values(last_login_at=now)
            .returning(User.id)
        ).one_or_none()
        if still_allowed is None:
            raise Unauthenticated(auth.INVALID)
        if rehashed:
            # Only if the password was not changed meanwhile: never replace a new hash with the old password's.
            s.execute(
                update(User).where(User.id == user.id, User.password_hash == old_hash).values(password_hash=rehashed)
            )
        row = UserSession(
            user_id=user.id,
            token_hash=hash_token(token),
            expires_at=now + timedelta(hours=get_settings().session_ttl_hours),
            user_agent=(user_agent or None) and user_agent[:USER_AGENT_MAX],
            ip_address=ip_address or None,
            last_seen_at=now,
        )
        s.add(row)
        s.flush()
        s.refresh(row)
    return StartedSession(row, token)


def logout(principal: Principal) -> None:
    """End the caller's session (idempotent). An API key is not a session: revoke it with DELETE /v1/api-keys/…"""
    if principal.via != "session":
        raise InvalidInput(
            "Logout ends a session; this request was authenticated with an API key (revoke it instead).",
            code="not_a_session",
        )
    with session() as s:
        s.execute(
            update(UserSession)
            .where(UserSession.id == principal.credential_id, UserSession.revoked_at.is_(None))
            .values(revoked_at=func.now())
        )
    # At once in this execution environment; other environments drop their cached copy within auth.CACHE_TTL_S.
    auth.forget(principal.credential_id)


def revoke_all(s: Session, user_id: uuid.UUID) -> int:
    """End every open session of a user inside the caller's transaction (disabling a user); returns how many."""
    result = s.execute(
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=func.now())
    )
    return result.rowcount or 0
