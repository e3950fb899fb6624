"""Wake-up messages for workers, sent only after the transaction that made jobs runnable has committed.

A wake-up carries no state: the worker that receives one claims the best runnable job at that moment (priority
first), so a message and a job are not tied together. What matters is that there are at least as many
wake-ups as runnable jobs; the scheduler's sweep tops them up if a send was lost (the function died between
commit and send, or SQS refused it).
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from aws_lambda_powertools import Logger
from sqlalchemy import event
from sqlalchemy.orm import Session

from shared import aws
from shared.config import get_settings

logger = Logger(child=True)

MAX_DELAY_S = 900  # SQS's limit; later runs are woken by the sweep


def delay_until(run_at: datetime, now: datetime | None = None) -> int:
    """Whole seconds to delay a wake-up for a job due at `run_at`, rounded UP and capped at SQS's limit.

    Rounding down would deliver a wake-up before the job is due: it claims nothing, is deleted, and the job
    waits for the sweep (a minute). Later than due by under a second is the price of SQS's whole seconds.
    """
    seconds = (run_at - (now or datetime.now(UTC))).total_seconds()
    return max(0, min(MAX_DELAY_S, math.ceil(seconds)))


@dataclass(frozen=True)
class Wakeup:
    job_id: uuid.UUID | None
    delay_s: int = 0

    def body(self) -> str:
        return json.dumps({"job_id": str(self.job_id) if self.job_id else None})


Transport = Callable[[Sequence[Wakeup]], None]


def sqs_transport(wakeups: Sequence[Wakeup]) -> None:
    queue_url = get_settings().jobs_queue_url
    if not queue_url:
        raise RuntimeError("CONVEYOR_JOBS_QUEUE_URL is not set")
    sqs = aws.client("sqs")
    for start in range(0, len(wakeups), 10):
        chunk = wakeups[start : start + 10]
        entries = [
            {"Id": str(i), "MessageBody": w.body(), "DelaySeconds": max(0, min(MAX_DELAY_S, w.delay_s))}
            for i, w in enumerate(chunk)
        ]
        failed = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries).get("Failed", [])
        if failed:
            raise RuntimeError(f"SQS refused {len(failed)} wake-up(s): {failed[0].get('Code')}")


_transport: Transport = sqs_transport


def set_transport(transport: Transport) -> Transport:
    """Swap how wake-ups travel (the benchmark uses an in-memory queue); returns the previous transport."""
    global _transport
    previous, _transport = _transport, transport
    return previous


def after_commit(s: Session, wakeups: Sequence[Wakeup]) -> None:
    """Send these wake-ups once `s` commits (nothing is sent if it rolls back)."""
    s.info.setdefault("conveyor_wakeups", []).extend(wakeups)


def send_now(wakeups: Sequence[Wakeup]) -> None:
    """Send, never raise: the jobs are safely stored, and the sweep re-sends what did not go out."""
    if not wakeups:
        return
    try:
        _transport(wakeups)
    except Exception as exc:
        logger.warning("wake-ups not sent; the sweep will top them up", count=len(wakeups), error=str(exc))


@event.listens_for(Session, "after_commit")
def _send_after_commit(s: Session) -> None:
    pending: list[Wakeup] = s.info.pop("conveyor_wakeups", [])
    send_now(pending)


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(s: Session) -> None:
    s.info.pop("conveyor_wakeups", None)
