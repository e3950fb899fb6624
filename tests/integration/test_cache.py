"""The TTL cache for remote listings: fresh, stale and expired windows, refresh with stale fallback, the sweep."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from shared.automations import cache
from shared.db import session
from shared.db.models import CacheEntry


def age(namespace: str, seconds: int) -> None:
    """Move a namespace's entries `seconds` into the past (the cache uses the database clock)."""
    shift = timedelta(seconds=seconds)
    with session() as s:
        s.execute(
            update(CacheEntry)
            .where(CacheEntry.namespace == namespace)
            .values(
                cached_at=CacheEntry.cached_at - shift,
                fresh_until=CacheEntry.fresh_until - shift,
                stale_until=CacheEntry.stale_until - shift,
            )
        )


def rows() -> int:
    with session() as s:
        return s.scalar(select(func.count()).select_from(CacheEntry)) or 0


def test_an_entry_is_fresh_then_stale_then_gone(db) -> None:  # type: ignore[no-untyped-def]
    # Given: a gallery listing cached with the seed's windows (5 min fresh, 2 h stale)
    cache.put("gallery", "folders", {"folders": [1, 2]})

    # Then: fresh at first
    hit = cache.get("gallery", "folders")
    assert hit is not None
    assert (hit.data, hit.fresh) == ({"folders": [1, 2]}, True)

    # When: six minutes pass; Then: still served, but stale
    age("gallery", 360)
    hit = cache.get("gallery", "folders")
    assert hit is not None
    assert hit.fresh is False

    # When: past two hours; Then: gone, even before the sweep deletes it
    age("gallery", 7200)
    assert cache.get("gallery", "folders") is None
    assert rows() == 1


def test_entries_are_per_user_and_shared_ones_upsert(db, alice, bob) -> None:  # type: ignore[no-untyped-def]
    # Given: a shared entry written twice, and alice's own entry under the same key
    cache.put("browse", "popular", ["a"])
    cache.put("browse", "popular", ["b"])
    cache.put("browse", "popular", ["alice"], user_id=alice.id)

    # Then: one shared row (NULL users are one key), alice sees hers, bob sees nothing of his own
    assert rows() == 2
    assert cache.get("browse", "popular").data == ["b"]  # type: ignore[union-attr]
    assert cache.get("browse", "popular", alice.id).data == ["alice"]  # type: ignore[union-attr]
    assert cache.get("browse", "popular", bob.id) is None

    # When: alice's namespace is invalidated; Then: the shared entry stays
    assert cache.invalidate("browse", user_id=alice.id) == 1
    assert cache.get("browse", "popular") is not None


def test_get_or_refresh_serves_fresh_reloads_stale_and_falls_back_when_the_loader_fails(db) -> None:  # type: ignore[no-untyped-def]
    calls: list[int] = []

    def loader() -> dict[str, int]:
        calls.append(1)
        return {"n": len(calls)}

    def broken() -> dict[str, int]:
        raise ConnectionError("remote API down")

    # Given/When: a miss loads; a fresh hit does not call the loader
    assert cache.get_or_refresh("gallery", "k", loader).data == {"n": 1}
    assert cache.get_or_refresh("gallery", "k", loader).data == {"n": 1}
    assert len(calls) == 1

    # When: the entry is stale; Then: it is reloaded
    age("gallery", 400)
    refreshed = cache.get_or_refresh("gallery", "k", loader)
    assert (refreshed.data, refreshed.fresh) == ({"n": 2}, True)

    # When: stale again and the remote is down; Then: the stale copy is served
    age("gallery", 400)
    fallback = cache.get_or_refresh("gallery", "k", broken)
    assert (fallback.data, fallback.fresh) == ({"n": 2}, False)

    # When: expired and the remote is down; Then: the error reaches the caller
    age("gallery", 7200)
    with pytest.raises(ConnectionError):
        cache.get_or_refresh("gallery", "k", broken)


def test_the_sweep_deletes_only_expired_entries(db, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # Given: five expired entries and one stale-but-servable one; small batches
    for i in range(5):
        cache.put("old", f"k{i}", i)
    age("old", 7201)
    cache.put("recent", "k", "keep")
    age("recent", 600)
    monkeypatch.setattr(cache, "SWEEP_BATCH", 2)

    # When: the scheduler step runs
    from functions.scheduler.composition import STEPS

    assert ("cache.expired", cache.delete_expired_entries) in STEPS
    deleted = cache.delete_expired_entries()

    # Then: the expired rows are gone in batches, the stale one stays
    assert deleted == 5
    assert rows() == 1
    assert cache.get("recent", "k").data == "keep"  # type: ignore[union-attr]
    assert cache.delete_expired_entries() == 0


@pytest.mark.parametrize(
    ("namespace", "key", "fresh_s", "stale_s"), [("", "k", 1, 2), ("n", "", 1, 2), ("n", "k", 10, 5), ("n", "k", -1, 5)]
)
def test_bad_arguments_are_refused(db, namespace, key, fresh_s, stale_s) -> None:  # type: ignore[no-untyped-def]
    from shared.errors import InvalidInput

    with pytest.raises(InvalidInput):
        cache.put(namespace, key, 1, fresh_s=fresh_s, stale_s=stale_s)
