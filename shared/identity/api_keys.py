"""API keys: issued once in full, then known only by their keyed hash and visible prefix."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update

from shared.db import session
from shared.db.models import ApiKey
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
