"""A small TTL cache in Postgres for remote listings (seed 002's GalleryCache and BrowseCache, generalised).

An entry is fresh for `fresh_s` (seed: 5 minutes) and may still be served for `stale_s` after it was cached
(seed: 2 hours) when the remote API fails: a publisher's gallery list keeps working through an outage. Entries are
keyed by (namespace, key, user); user None is one shared entry. Times come from the database clock so every Lambda
agrees on what is fresh. The `cache.expired` scheduler step deletes rows past their stale window in small batches.

Publisher plugins reach it as `self.cache` (shared/publishing/base.py), a `UserCache` bound to the publisher's
owner; the API lists a user's namespaces (`namespaces`) and clears one (`clear_namespace`, `DELETE /v1/cache/<ns>`).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger
from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert

from shared.db import session
from shared.db.models import CacheEntry
from shared.errors import InvalidInput

logger = Logger(child=True)

FRESH_S = 300
STALE_S = 7200
MAX_NAMESPACE_CHARS = 64
NAMESPACE_PATTERN = rf"^[a-z0-9_-]{{1,{MAX_NAMESPACE_CHARS}}}$"  # also the API's path parameter
_NAMESPACE = re.compile(NAMESPACE_PATTERN)
MAX_NAMESPACES = 1000  # listed per user
MAX_KEY_CHARS = 2000
SWEEP_BATCH = 1000
SWEEP_MAX_BATCHES = 10


@dataclass(frozen=True)
class CacheHit:
    data: Any
    fresh: bool
    cached_at: datetime


def _check_namespace(namespace: str) -> None:
    if not _NAMESPACE.fullmatch(namespace):
        raise InvalidInput(
            f"A cache namespace is 1-{MAX_NAMESPACE_CHARS} characters of a-z, 0-9, _ and -.",
            details={"field": "namespace"},
        )


def _check(namespace: str, key: str) -> None:
    _check_namespace(namespace)
    if not 1 <= len(key) <= MAX_KEY_CHARS:
        raise InvalidInput(f"A cache key is 1-{MAX_KEY_CHARS} characters.", details={"field": "key"})


def get(namespace: str, key: str, user_id: uuid.UUID | None = None) -> CacheHit | None:
    """The entry while it is fresh or stale; None once its stale window has passed (even before the sweep runs)."""
    _check(namespace, key)
    with session() as s:
        row = s.execute(
            select(CacheEntry.data, CacheEntry.fresh_until > func.now(), CacheEntry.cached_at).where(
                CacheEntry.namespace == namespace,
                CacheEntry.cache_key == key,
                CacheEntry.user_id.is_not_distinct_from(user_id),
                CacheEntry.stale_until > func.now(),
            )
        ).one_or_none()
    return None if row is None else CacheHit(data=row[0], fresh=bool(row[1]), cached_at=row[2])


def put(
    namespace: str,
    key: str,
    data: Any,
    *,
    fresh_s: int = FRESH_S,
    stale_s: int = STALE_S,
    user_id: uuid.UUID | None = None,
) -> None:
    """Store (or replace) an entry; `data` must be JSON-serialisable. stale_s counts from now, like fresh_s."""
    _check(namespace, key)
    if fresh_s < 0 or stale_s < fresh_s:
        raise InvalidInput("Need 0 <= fresh_s <= stale_s.", details={"fresh_s": fresh_s, "stale_s": stale_s})
    now = func.now()
    values = {
        "cached_at": now,
        "fresh_until": now + timedelta(seconds=fresh_s),
        "stale_until": now + timedelta(seconds=stale_s),
        "data": data,
    }
    statement = insert(CacheEntry).values(user_id=user_id, namespace=namespace, cache_key=key, **values)
    # The unique index treats NULL users as equal (NULLS NOT DISTINCT), so shared entries upsert too.
    statement = statement.on_conflict_do_update(index_elements=["namespace", "cache_key", "user_id"], set_=values)
    with session() as s:
        s.execute(statement)


def invalidate(namespace: str, key: str | None = None, user_id: uuid.UUID | None = None) -> int:
    """Drop one entry, or a user's (or the shared) whole namespace when key is None; returns how many went."""
    _check_namespace(namespace)
    query = delete(CacheEntry).where(
        CacheEntry.namespace == namespace, CacheEntry.user_id.is_not_distinct_from(user_id)
    )
    if key is not None:
        query = query.where(CacheEntry.cache_key == key)
    with session() as s:
        return s.execute(query).rowcount


def get_or_refresh(
    namespace: str,
    key: str,
    loader: Callable[[], Any],
    *,
    fresh_s: int = FRESH_S,
    stale_s: int = STALE_S,
    user_id: uuid.UUID | None = None,
) -> CacheHit:
    """Fresh entry if there is one; else load and store. When loading fails, a stale entry is served instead
    (fresh=False) so a remote outage does not break the caller; with nothing stale either, the error propagates.
    """
    hit = get(namespace, key, user_id)
    if hit is not None and hit.fresh:
        return hit
    try:
        data = loader()
    except Exception as exc:
        if hit is None:
            raise
        logger.warning("cache refresh failed; serving stale", namespace=namespace, error=type(exc).__name__)
        return hit
    put(namespace, key, data, fresh_s=fresh_s, stale_s=stale_s, user_id=user_id)
    refreshed = get(namespace, key, user_id)
    return refreshed or CacheHit(data=data, fresh=fresh_s > 0, cached_at=hit.cached_at if hit else datetime.min)


@dataclass(frozen=True)
class NamespaceCount:
    namespace: str
    entries: int  # servable (fresh or stale)
    fresh: int


def namespaces(user_id: uuid.UUID) -> list[NamespaceCount]:
    """The user's own namespaces that hold servable entries, by name, with counts (shared entries are not listed)."""
    fresh = func.count().filter(CacheEntry.fresh_until > func.now())
    query = (
        select(CacheEntry.namespace, func.count(), fresh)
        .where(CacheEntry.user_id == user_id, CacheEntry.stale_until > func.now())
        .group_by(CacheEntry.namespace)
        .order_by(CacheEntry.namespace)
        .limit(MAX_NAMESPACES)
    )
    with session() as s:
        return [NamespaceCount(namespace=n, entries=c, fresh=f) for n, c, f in s.execute(query)]


def clear_namespace(user_id: uuid.UUID, namespace: str) -> int:
    """Delete the user's own entries in a namespace (expired ones too, not shared ones); how many went."""
    return invalidate(namespace, user_id=user_id)


class UserCache:
    """The cache as one user's code sees it: the functions above with `user_id` bound (what a publisher gets)."""

    def __init__(self, user_id: uuid.UUID) -> None:
        self.user_id = user_id

    def get(self, namespace: str, key: str) -> CacheHit | None:
        return get(namespace, key, self.user_id)

    def put(self, namespace: str, key: str, data: Any, *, fresh_s: int = FRESH_S, stale_s: int = STALE_S) -> None:
        put(namespace, key, data, fresh_s=fresh_s, stale_s=stale_s, user_id=self.user_id)

    def get_or_refresh(
        self, namespace: str, key: str, loader: Callable[[], Any], *, fresh_s: int = FRESH_S, stale_s: int = STALE_S
    ) -> CacheHit:
        return get_or_refresh(namespace, key, loader, fresh_s=fresh_s, stale_s=stale_s, user_id=self.user_id)

    def invalidate(self, namespace: str, key: str | None = None) -> int:
        return invalidate(namespace, key, self.user_id)


def delete_expired_entries() -> int:
    """Delete entries past their stale window, a batch per transaction (short locks, SKIP LOCKED for overlapping
    ticks), by the stale_until index; at most SWEEP_MAX_BATCHES per tick, the rest waits for the next one."""
    deleted = 0
    for _ in range(SWEEP_MAX_BATCHES):
        due = (
            select(CacheEntry.id)
            .where(CacheEntry.stale_until < func.now())
            .order_by(CacheEntry.stale_until)
            .limit(SWEEP_BATCH)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        with session() as s:
            count = s.execute(delete(CacheEntry).where(CacheEntry.id.in_(due))).rowcount
        deleted += count
        if count < SWEEP_BATCH:
            break
    return deleted
