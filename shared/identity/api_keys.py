"""API keys: issued once in full, then known only by their keyed hash and visible prefix."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import and_, func, not_, or_, select, tuple_, update

from shared.db import session
from shared.db.models import ApiKey, User
from shared.db.pagination import decode_cursor, encode_cursor
from shared.errors import InvalidInput, NotFound
from shared.identity import auth
from shared.identity.keys import hash_token, new_api_key, visible_prefix
from shared.identity.principal import Principal, Scope


@dataclass(frozen=True)
class IssuedKey:
    key: ApiKey
    secret: str  # the full key: returned to the caller once, never stored


def issue_key(
    user_id: uuid.UUID,
    *,
    name: str,
    scopes: list[str] | None = None,
    expires_at: datetime | None = None,
    live: bool = True,
    issuer: Principal | None = None,
) -> IssuedKey:
    """Issue a key; a key can never carry more than the credential that asked for it."""
    wanted = sorted(set(scopes or [Scope.READ, Scope.WRITE]))
    if issuer is not None and not all(issuer.allows(s) for s in wanted):
        raise InvalidInput("A key cannot have scopes its creator lacks.", details={"scopes": wanted})
    if expires_at is not None and expires_at <= datetime.now(UTC):
        raise InvalidInput("The expiry must be in the future.", details={"until": expires_at.isoformat()})
    secret = new_api_key(live=live)
    with session() as s:
        key = ApiKey(
            user_id=user_id,
            name=name,
            prefix=visible_prefix(secret),
            key_hash=hash_token(secret),
            scopes=wanted,
            expires_at=expires_at,
        )
        s.add(key)
        s.flush()
        s.refresh(key)
    return IssuedKey(key, secret)


def list_keys(user_id: uuid.UUID) -> list[ApiKey]:
    with session() as s:
        return list(s.scalars(select(ApiKey).where(ApiKey.user_id == user_id).order_by(ApiKey.created_at.desc())))


def revoke_key(user_id: uuid.UUID, key_id: uuid.UUID) -> ApiKey:
    """Revoke one of the caller's keys (idempotent). Another user's key is 'not found', never 'forbidden'."""
    with session() as s:
        key = s.scalar(select(ApiKey).where(ApiKey.id == key_id, ApiKey.user_id == user_id))
        if key is None:
            raise NotFound("No such API key.")
        if key.revoked_at is None:
            s.execute(update(ApiKey).where(ApiKey.id == key_id).values(revoked_at=datetime.now(UTC)))
            s.refresh(key)
    auth.forget(key_id)
    return key


# --- named tokens (seed 000's Token / UserToken): the keys of one name, across users, for the admin -------------


@dataclass(frozen=True)
class HeldKey:
    key: ApiKey
    email: str  # the holder's


@dataclass(frozen=True)
class HeldKeyPage:
    items: list[HeldKey]
    next_cursor: str | None


def list_all_keys(
    *,
    name: str | None = None,
    user_id: uuid.UUID | None = None,
    active: bool | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> HeldKeyPage:
    """Every user's keys (admin), newest first, keyset-paginated on (created_at, id); `name` is an exact name.

    `active=True`: keys that still authenticate (not revoked, not expired); `False`: revoked or expired ones.
    """
    now = datetime.now(UTC)
    usable = and_(ApiKey.revoked_at.is_(None), or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > now))
    query = select(ApiKey, User.email).join(User, User.id == ApiKey.user_id)
    if name is not None:
        query = query.where(ApiKey.name == name)
    if user_id is not None:
        query = query.where(ApiKey.user_id == user_id)
    if active is not None:
        query = query.where(usable if active else not_(usable))
    if cursor:
        created_at, last_id = decode_cursor(cursor)
        query = query.where(tuple_(ApiKey.created_at, ApiKey.id) < tuple_(created_at, last_id))
    query = query.order_by(ApiKey.created_at.desc(), ApiKey.id.desc()).limit(limit + 1)
    with session() as s:
        rows = [HeldKey(row.ApiKey, row.email) for row in s.execute(query)]
    items = rows[:limit]
    more = len(rows) > limit
    return HeldKeyPage(items, encode_cursor(items[-1].key.created_at, items[-1].key.id) if more else None)


def revoke_named(name: str) -> list[HeldKey]:
    """Revoke every user's unrevoked keys named `name` at once (idempotent: already revoked ones are left as they
    were); returns the keys this call revoked, with their holders. Each is dropped from this environment's
    authentication cache at once, and stops everywhere else within `auth.CACHE_TTL_S`, like a key its owner
    revokes."""
    with session() as s:
        revoked = list(
            s.scalars(
                update(ApiKey)
                .where(ApiKey.name == name, ApiKey.revoked_at.is_(None))
                .values(revoked_at=func.now())
                .returning(ApiKey)
            )
        )
        emails = dict(s.execute(select(User.id, User.email).where(User.id.in_({k.user_id for k in revoked}))).all())
    for key in revoked:
        auth.forget(key.id)
    return sorted((HeldKey(k, emails[k.user_id]) for k in revoked), key=lambda h: (h.email, h.key.created_at))
