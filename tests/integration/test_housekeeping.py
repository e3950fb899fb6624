"""The scheduler removes sessions and one-time tokens long past use, and nothing still useful."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from local.events import scheduled_event
from local.lambda_context import LambdaContext
from shared.db import session
from shared.db.models import OneTimeToken
from shared.db.models import Session as UserSession


def test_a_tick_deletes_what_expired_more_than_a_week_ago(alice) -> None:  # type: ignore[no-untyped-def]
    from functions.scheduler.handler import handler

    now = datetime.now(UTC)
    with session() as s:
        for i, expires in enumerate((now - timedelta(days=8), now - timedelta(days=1), now + timedelta(hours=1))):
            s.add(UserSession(user_id=alice.id, token_hash=f"s{i}", expires_at=expires))
            s.add(
                OneTimeToken(
                    user_id=alice.id,
                    purpose="verify_email",
                    identifier=alice.email,
                    token_hash=f"t{i}",
                    expires_at=expires,
                )
            )
        s.add(
            OneTimeToken(
                user_id=alice.id,
                purpose="verify_email",
                identifier=alice.email,
                token_hash="used-long-ago",
                expires_at=now + timedelta(days=30),
                used_at=now - timedelta(days=10),
            )
        )

    result = handler(scheduled_event(), LambdaContext("conveyor-test-scheduler", timeout_s=60))

    assert result["steps"]["identity.expired_sessions"] == 1
    assert result["steps"]["identity.spent_tokens"] == 2
    with session() as s:
        assert s.scalar(select(func.count()).select_from(UserSession)) == 2
        assert sorted(s.scalars(select(OneTimeToken.token_hash))) == ["t1", "t2"]
