"""Bearer-token authentication for API keys and session tokens.

Tokens are looked up by their keyed hash (an indexed equality), then compared in constant time. A successful
lookup is cached in memory for at most CACHE_TTL_S, so a revoked key, an ended session or a disabled user stops
working within that time in every execution environment. Every failure raises the same `Unauthenticated`, so a
caller cannot tell an unknown token from an expired, revoked or disabled one.

Every successful authentication also counts the request against the credential's rate limit
(shared/identity/ratelimit.py) and raises `RateLimited` over it: on a cache miss the count is the lookup's second
statement (it replaces the touch of `last_used_at` / `last_seen_at`, which it performs), on a cache hit it is one
round trip of its own.
"""

from __future__ import annotations

import hmac
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import or_, select

from shared.db import session
from shared.db.enums import UserRole
from shared.db.models import ApiKey, User
from shared.db.models import Session as UserSession
from shared.errors import Unauthenticated
from shared.identity import ratelimit
from shared.identity.keys import hash_token, looks_like_api_key, looks_like_session_token
from shared.identity.principal import ALL_SCOPES, Principal, Scope

CACHE_TTL_S = 60.0
INVALID = "Missing or invalid credentials."


@dataclass(frozen=True)
class _Cached:
    principal: Principal
    key_hash: str
    until: float  # monotonic deadline


_cache: dict[str, _Cached] = {}
_lock = threading.Lock()


def clear_cache() -> None:
    with _lock:
        _cache.clear()


def forget(credential_id: object) -> None:
    """Drop a revoked key or ended session from this environment's cache at once (others within CACHE_TTL_S)."""
    with _lock:
        for key_hash in [h for h, c in _cache.items() if c.principal.credential_id == credential_id]:
            del _cache[key_hash]


def authenticate(token: str | None) -> Principal:
    """The principal of a bearer token, its request counted; raises Unauthenticated, or RateLimited over the limit."""
    if not token:
        raise Unauthenticated(INVALID)
    key_hash = hash_token(token)
    now = time.monotonic()
    with _lock:
        cached = _cache.get(key_hash)
    if cached and cached.until > now and hmac.compare_digest(cached.key_hash, key_hash):
        ratelimit.hit(cached.principal.via, cached.principal.credential_id)  # type: ignore[arg-type]
        return cached.principal

    if looks_like_api_key(token):
        principal, expires_at, counted = _from_api_key(key_hash)
    elif looks_like_session_token(token):
        principal, expires_at, counted = _from_session(key_hash)
    else:
        raise Unauthenticated(INVALID)

    ttl = CACHE_TTL_S
    if expires_at is not None:
        ttl = min(ttl, (expires_at - datetime.now(UTC)).total_seconds())
    with _lock:
        _cache[key_hash] = _Cached(principal, key_hash, now + ttl)
    ratelimit.enforce(counted)
    return principal


def _from_api_key(key_hash: str) -> tuple[Principal, datetime | None, ratelimit.Count | None]:
    now = datetime.now(UTC)
    with session() as s:
        row = s.execute(
            select(ApiKey, User.role)
            .join(User, User.id == ApiKey.user_id)
            .where(
                ApiKey.key_hash == key_hash,
                ApiKey.revoked_at.is_(None),
                or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > now),
                User.disabled_at.is_(None),
            )
        ).one_or_none()
        if row is None or not hmac.compare_digest(row.ApiKey.key_hash, key_hash):
            raise Unauthenticated(INVALID)
        key: ApiKey = row.ApiKey
        counted = ratelimit.count(s, "api_key", key.id)  # also writes last_used_at, at most once a minute
        scopes = frozenset(key.scopes) & ALL_SCOPES
        return Principal(key.user_id, row.role, scopes, "api_key", key.id), key.expires_at, counted


def _from_session(token_hash: str) -> tuple[Principal, datetime | None, ratelimit.Count | None]:
    now = datetime.now(UTC)
    with session() as s:
        row = s.execute(
            select(UserSession, User.role)
            .join(User, User.id == UserSession.user_id)
            .where(
                UserSession.token_hash == token_hash,
                UserSession.revoked_at.is_(None),
                UserSession.expires_at > now,
                User.disabled_at.is_(None),
            )
        ).one_or_none()
        if row is None or not hmac.compare_digest(row.Session.token_hash, token_hash):
            raise Unauthenticated(INVALID)
        user_session: UserSession = row.Session
        counted = ratelimit.count(s, "session", user_session.id)  # also writes last_seen_at, at most once a minute
        # A signed-in user may do what their role allows; scopes narrow API keys only.
        scopes = ALL_SCOPES if row.role == UserRole.ADMIN else frozenset({Scope.READ, Scope.WRITE})
        principal = Principal(user_session.user_id, row.role, scopes, "session", user_session.id)
        return principal, user_session.expires_at, counted
