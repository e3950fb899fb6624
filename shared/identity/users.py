"""Users: open sign-up, admin management (create, list, disable, change role) and the caller's own profile.

Emails are compared ignoring case (the unique index is on lower(email)) and stored as typed, trimmed. A
duplicate is `409 email_taken`, whether the check or the index catches it. Disabling a user ends their sessions
and, through authentication's `disabled_at` check, their API keys (kept, so re-enabling restores them);
this execution environment forgets cached credentials at once, others within auth.CACHE_TTL_S (60 s).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError

from shared import aws
from shared.db import session
from shared.db.enums import Theme, UserRole
from shared.db.models import User, UserSettings
from shared.db.pagination import decode_cursor, encode_cursor
from shared.errors import Conflict, Forbidden, InvalidInput, NotFound
from shared.identity import auth, sessions, verification
from shared.identity import settings as instance_settings
from shared.identity.passwords import hash_password
from shared.timezones import check_timezone

EMAIL_MAX = 254
# Deliberately loose: one @, no spaces, a dot-free host allowed (admin@localhost). Deliverability is what
# verification proves; a stricter pattern only rejects real addresses.
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+$"
# The same rule as the API schema states it: the schema trims surrounding spaces before checking.
EMAIL_SCHEMA_PATTERN = r"^\s*[^@\s]+@[^@\s]+\s*$"
_EMAIL = re.compile(EMAIL_PATTERN)

PROFILE_FIELDS = ("bio", "city", "region", "country", "postal_code", "latitude", "longitude")
USER_FIELDS = ("name", "timezone", *PROFILE_FIELDS)
SETTINGS_FIELDS = ("theme", "default_provider", "default_model")


def normalise_email(email: str) -> str:
    email = email.strip()
    if len(email) > EMAIL_MAX or not _EMAIL.match(email):
        raise InvalidInput("That is not an e-mail address.", code="invalid_email", details={"field": "email"})
    return email


def _insert_user(email: str, *, name: str | None, role: UserRole, password_hash: str | None, verified: bool) -> User:
    """The row sign-up and admin creation both add (inside their own unit of work)."""
    return User(
        email=email,
        name=name,
        role=role.value,
        password_hash=password_hash,
        email_verified_at=datetime.now(UTC) if verified else None,
    )


def _email_taken(email: str) -> Conflict:
    return Conflict("An account with this e-mail already exists.", code="email_taken", details={"email": email})


# --- sign-up ----------------------------------------------------------------------------------------------------


def signup(email: str, password: str, name: str | None = None, *, client: Callable[[str], Any] = aws.client) -> User:
    """Open sign-up: a member who is not signed in yet (they log in next) and must verify their address.

    The user row, the token and the SES send are one unit: if the e-mail cannot be sent the account is not
    created, so the person can simply try again instead of being stuck with an unverifiable account.
    """
    email = normalise_email(email)
    password_hash = hash_password(password)  # before the transaction: argon2 is slow on purpose
    try:
        with session() as s:
            if not instance_settings.read(s).signup_enabled:
                raise Forbidden("Sign-up is closed on this instance; ask an administrator.", code="signup_disabled")
            if s.scalar(select(User.id).where(func.lower(User.email) == email.lower())) is not None:
                raise _email_taken(email)
            user = _insert_user(email, name=name, role=UserRole.MEMBER, password_hash=password_hash, verified=False)
            s.add(user)
            s.flush()
            token = verification.issue_token(s, user.id, email)
            s.refresh(user)
            verification.send_verification_email(email, token, client=client)
    except IntegrityError as exc:  # a concurrent sign-up with the same address won the race
        raise _email_taken(email) from exc
    return user


# --- admin ------------------------------------------------------------------------------------------------------


def create_user(
    email: str,
    *,
    name: str | None = None,
    role: UserRole = UserRole.MEMBER,
    password: str | None = None,
    verified: bool = False,
) -> User:
    """An admin creates an account. Without a password the user cannot log in (only hold API keys)."""
    email = normalise_email(email)
    password_hash = hash_password(password) if password is not None else None
    try:
        with session() as s:
            if s.scalar(select(User.id).where(func.lower(User.email) == email.lower())) is not None:
                raise _email_taken(email)
            user = _insert_user(email, name=name, role=role, password_hash=password_hash, verified=verified)
            s.add(user)
            s.flush()
            s.refresh(user)
    except IntegrityError as exc:
        raise _email_taken(email) from exc
    return user


def get_user(user_id: uuid.UUID) -> User:
    with session() as s:
        user = s.get(User, user_id)
        if user is None:
            raise NotFound("No such user.")
        return user


@dataclass(frozen=True)
class UserPage:
    items: list[User]
    next_cursor: str | None


def list_users(
    *, role: UserRole | None = None, disabled: bool | None = None, limit: int = 50, cursor: str | None = None
) -> UserPage:
    """Oldest first, keyset-paginated on (created_at, id): pages stay stable while users are added."""
    query = select(User).order_by(User.created_at, User.id).limit(limit + 1)
    if role is not None:
        query = query.where(User.role == role.value)
    if disabled is not None:
        query = query.where(User.disabled_at.is_not(None) if disabled else User.disabled_at.is_(None))
    if cursor:
        after_created, after_id = decode_cursor(cursor)
        query = query.where(
            or_(User.created_at > after_created, and_(User.created_at == after_created, User.id > after_id))
        )
    with session() as s:
        rows = list(s.scalars(query))
    items = rows[:limit]
    return UserPage(items, encode_cursor(items[-1].created_at, items[-1].id) if len(rows) > limit else None)


def update_user(
    actor_id: uuid.UUID, user_id: uuid.UUID, *, disabled: bool | None = None, role: UserRole | None = None
) -> User:
    """Disable/enable a user or change their role. An admin cannot disable or demote themselves (422), so an
    instance cannot lose its last way in by accident."""
    if actor_id == user_id and (disabled or (role is not None and role != UserRole.ADMIN)):
        raise InvalidInput("You cannot disable or demote yourself.", code="cannot_modify_self")
    with session() as s:
        user = s.get(User, user_id, with_for_update=True)
        if user is None:
            raise NotFound("No such user.")
        if disabled is True and user.disabled_at is None:
            user.disabled_at = datetime.now(UTC)
            sessions.revoke_all(s, user.id)
        elif disabled is False:
            user.disabled_at = None
        if role is not None:
            user.role = role.value
        s.flush()
        s.refresh(user)
    # Cached principals carry the role and predate the disabling: forget them here now (elsewhere within 60 s).
    auth.clear_cache()
    return user


# --- the caller's own account -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Me:
    user: User
    theme: str
    default_provider: str | None
    default_model: str | None


def get_me(user_id: uuid.UUID) -> Me:
    """The caller and their settings; a user without a settings row gets the defaults (no row is written)."""
    with session() as s:
        query = select(User, UserSettings).outerjoin(UserSettings, UserSettings.user_id == User.id)
        row = s.execute(query.where(User.id == user_id)).one_or_none()
    if row is None:
        raise NotFound("No such user.")
    user, prefs = row
    if prefs is None:
        return Me(user, Theme.SYSTEM.value, None, None)
    return Me(user, prefs.theme, prefs.default_provider, prefs.default_model)


def update_me(user_id: uuid.UUID, changes: dict[str, Any]) -> Me:
    """Apply a partial update (only the fields present; None clears an optional field).

    Shape and ranges are checked by the API's schema; the rules that need domain knowledge are checked here.
    """
    unknown = set(changes) - set(USER_FIELDS) - set(SETTINGS_FIELDS)
    if unknown:
        raise InvalidInput("Unknown fields.", code="invalid_input", details={"fields": sorted(unknown)})
    if "timezone" in changes:
        if changes["timezone"] is None:
            raise InvalidInput("The time zone cannot be empty.", code="invalid_timezone")
        check_timezone(changes["timezone"])
    if "theme" in changes and changes["theme"] not in {t.value for t in Theme}:
        raise InvalidInput("Unknown theme.", code="invalid_input", details={"field": "theme"})
    user_changes = {k: v for k, v in changes.items() if k in USER_FIELDS}
    settings_changes = {k: v for k, v in changes.items() if k in SETTINGS_FIELDS}
    with session() as s:
        user = s.get(User, user_id, with_for_update=True)
        if user is None:
            raise NotFound("No such user.")
        zone_moved = "timezone" in user_changes and user_changes["timezone"] != user.timezone
        for field, value in user_changes.items():
            setattr(user, field, value)
        if zone_moved:
            from shared.automations.service import zone_changed

            s.flush()
            zone_changed(s, user_id)
        if settings_changes:
            # Created on first use; the upsert cannot race a concurrent first PATCH into a duplicate key.
            s.execute(
                insert(UserSettings)
                .values(user_id=user_id, **settings_changes)
                .on_conflict_do_update(
                    index_elements=[UserSettings.user_id], set_={**settings_changes, "updated_at": func.now()}
                )
            )
        s.flush()
    return get_me(user_id)
