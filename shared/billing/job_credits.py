"""A job's credits, as a lifecycle consequence: reserved when it is created (or retried by its user), captured
when it succeeds, released when it fails or is cancelled — each in the transaction of that transition.

Billing depends on the engine (it reads the lifecycle's happenings); the engine knows nothing of credits.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared.billing import ledger
from shared.db.enums import JobStatus, ReservationStatus
from shared.db.models import CreditReservation
from shared.jobs.lifecycle import Consequence, Event, Happening
from shared.jobs.states import Action

_CAPTURED = (JobStatus.COMPLETED, JobStatus.REVIEW)
_RELEASED = (JobStatus.FAILED, JobStatus.CANCELLED)
_SETTLING = frozenset({Action.SUCCEED, Action.FAIL, Action.CANCEL, Action.ABORT})


def credit_ref(job_id: uuid.UUID, run: int = 1) -> str:
    """The ledger reference of a job's credits; a job retried by its user reserves again under run 2, 3, ..."""
    return f"job:{job_id}" if run == 1 else f"job:{job_id}:run{run}"


def held_credit_ref(s: Session, job_id: uuid.UUID) -> str | None:
    return s.scalar(
        select(CreditReservation.reference).where(
            CreditReservation.job_id == job_id, CreditReservation.status == ReservationStatus.HELD
        )
    )


def _acts_on(happening: Happening, job: Any) -> bool:
    return bool(job.cost_credits and job.user_id is not None) and (
        happening in _SETTLING or happening in (Event.CREATED, Action.REQUEUE)
    )


def _settle(s: Session, happening: Happening, jobs: Sequence[Any]) -> None:
    if happening == Event.CREATED:
        for job in jobs:
            ledger.reserve(
                job.user_id, job.cost_credits, credit_ref(job.id), reason=f"job {job.type}", job_id=job.id, s=s
            )
    elif happening == Action.REQUEUE:
        for job in jobs:
            runs = s.scalar(
                select(func.count()).select_from(CreditReservation).where(CreditReservation.job_id == job.id)
            )
            ledger.reserve(
                job.user_id,
                job.cost_credits,
                credit_ref(job.id, (runs or 0) + 1),
                reason=f"job {job.type} retried",
                job_id=job.id,
                s=s,
            )
    else:
        for job in jobs:
            ref = held_credit_ref(s, job.id)
            if ref is None:
                continue
            if job.status in _CAPTURED:
                ledger.capture(ref, user_id=job.user_id, s=s)
            elif job.status in _RELEASED:
                ledger.release(ref, user_id=job.user_id, s=s)


#: The consequence the composition roots subscribe: only jobs with a cost and an owner are touched.
settle_credits = Consequence(acts_on=_acts_on, run=_settle)
