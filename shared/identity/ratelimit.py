"""Per-credential rate limit (OWASP API4): at most N requests per fixed window for each API key or session token.

Lambda runs many execution environments at once, so the counter lives in Postgres, on the credential's own row
(`rate_window_start`, `rate_hits`). One conditional UPDATE counts a request: it starts a new window when the stored
one is over (windows are aligned to the database clock, `floor(epoch / window) * window`, so every environment
agrees on them), else adds one, and returns the count and the seconds left in the window. The same statement
writes `last_used_at` / `last_seen_at` at most once per TOUCH_INTERVAL, so on a cache miss authentication runs it
instead of its former touch UPDATE (no extra statement); on a cache hit it is the request's only statement before
routing (one round trip: prepared and sent without BEGIN/COMMIT). Its transaction commits without waiting for the
WAL flush (`synchronous_commit` off for that transaction alone, as the worker's claim does): a database crash may
forget the last few counts, which a rate limit can afford, and a request does not pay a durable write.

A fixed window lets a client send up to 2N requests around a window boundary; the stage throttling of API Gateway
(infra/api.py) bounds the total rate in any case. Requests over the limit are counted too, so a client that keeps
hammering stays limited until the window ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from sqlalchemy import text
from sqlalchemy.orm import Session

from shared.config import get_settings
from shared.db.session import single_statement
from shared.errors import ConveyorError

TOUCH_INTERVAL = timedelta(minutes=1)  # last_used_at / last_seen_at are written at most this often
CredentialKind = Literal["api_key", "session"]


class RateLimited(ConveyorError):
    """The credential made more requests in this window than the limit allows (429, with Retry-After)."""

    code = "rate_limited"

    def __init__(self, limit: int, window_s: int, retry_after_s: int) -> None:
        super().__init__(
            "Too many requests with this credential; retry after the number of seconds in Retry-After.",
            details={"limit": limit, "window_s": window_s, "retry_after_s": retry_after_s},
        )
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class Count:
    hits: int  # requests in the current window, this one included
    retry_after_s: int  # whole seconds until the window ends (at least 1)


def _statement(table: str, touched: str) -> str:
    # Table and column names come from the two constants below, never from input.
    return f"""
        WITH async_commit AS (SELECT set_config('synchronous_commit', 'off', true))
        UPDATE {table} AS c SET
            rate_hits = CASE WHEN c.rate_window_start = w.start THEN c.rate_hits + 1 ELSE 1 END,
            rate_window_start = w.start,
            {touched} = CASE WHEN c.{touched} IS NULL OR c.{touched} < w.now - w.touch THEN w.now ELSE c.{touched} END
        FROM (
            SELECT now() AS now, make_interval(secs => CAST(:touch_s AS int)) AS touch, CAST(:window_s AS int) AS len,
                   to_timestamp(floor(extract(epoch FROM now()) / CAST(:window_s AS int)) * CAST(:window_s AS int))
                       AS start
        ) AS w, async_commit
        WHERE c.id = :id
        RETURNING c.rate_hits, greatest(1, ceil(extract(epoch FROM w.start - w.now) + w.len))::int
    """  # noqa: S608


_COUNT = {
    "api_key": text(_statement("api_keys", "last_used_at")).execution_options(prepared=True),
    "session": text(_statement("sessions", "last_seen_at")).execution_options(prepared=True),
}


def count(s: Session, kind: CredentialKind, credential_id: object) -> Count | None:
    """Count one request of this credential in `s` (None when its row is gone)."""
    window_s = get_settings().rate_limit_window_s
    row = s.execute(
        _COUNT[kind], {"id": credential_id, "window_s": window_s, "touch_s": int(TOUCH_INTERVAL.total_seconds())}
    ).one_or_none()
    return None if row is None else Count(hits=row[0], retry_after_s=row[1])


def enforce(result: Count | None) -> None:
    """Raise RateLimited when the count is over the configured limit (0: no limit)."""
    settings = get_settings()
    limit = settings.rate_limit_requests
    if limit and result is not None and result.hits > limit:
        raise RateLimited(limit, settings.rate_limit_window_s, result.retry_after_s)


def hit(kind: CredentialKind, credential_id: object) -> None:
    """Count one request of an already authenticated credential and enforce the limit (one round trip)."""
    if not get_settings().rate_limit_requests:
        return
    with single_statement() as s:
        result = count(s, kind, credential_id)
    enforce(result)
