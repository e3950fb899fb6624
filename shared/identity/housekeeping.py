"""Scheduler steps that remove identity rows nobody can use any more.

Expired sessions and one-time tokens are kept for a grace period (so "why was I logged out?" can still be
answered), then deleted in bounded batches by their indexed expiry, so a tick never holds long locks.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, or_, select

from shared.db import session
from shared.db.models import OneTimeToken
from shared.db.models import Session as UserSession

GRACE = timedelta(days=7)
BATCH = 1000


def delete_expired_sessions() -> int:
    cutoff = datetime.now(UTC) - GRACE
    with session() as s:
        doomed = select(UserSession.id).where(UserSession.expires_at < cutoff).limit(BATCH)
        return s.execute(delete(UserSession).where(UserSession.id.in_(doomed))).rowcount


def delete_spent_tokens() -> int:
    cutoff = datetime.now(UTC) - GRACE
    with session() as s:
        doomed = (
            select(OneTimeToken.id)
            .where(or_(OneTimeToken.expires_at < cutoff, OneTimeToken.used_at < cutoff))
            .limit(BATCH)
        )
        return s.execute(delete(OneTimeToken).where(OneTimeToken.id.in_(doomed))).rowcount
