"""Reading the sale queue and its jobs in tests (shared by the sales tests of every publisher)."""

from __future__ import annotations

import uuid

from sqlalchemy import select, update

from shared.automations import sales
from shared.db import session
from shared.db.models import Job, SaleQueueEntry


def entry(entry_id: uuid.UUID) -> SaleQueueEntry:
    with session() as s:
        found = s.get(SaleQueueEntry, entry_id)
        assert found is not None
        return found


def sale_jobs() -> list[Job]:
    with session() as s:
        return list(s.scalars(select(Job).where(Job.type == sales.JOB_TYPE).order_by(Job.created_at)))


def no_backoff() -> None:
    """The job type retries after 30 s; tests retry at once."""
    with session() as s:
        s.execute(update(Job).where(Job.type == sales.JOB_TYPE).values(retry_base_ms=0, retry_cap_ms=0))
