"""A job's lifecycle: every transition, and what a transition sets off, in one place.

A transition is one conditional UPDATE (shared/jobs/states.py: the WHERE names the states it may leave, so a
race has a loser whose UPDATE matches nothing). Its consequences — settling credits, queueing the webhook,
waking the parent of a segment, later a realtime event — are *consequences*: plain functions that the
function's composition root subscribes, in order, with `subscribe`. They run in the transaction of the
transition, so a job never ends without its credits settled or its webhook queued, and a rollback undoes both.

The engine knows none of them: billing, webhooks and segments import this module, never the other way round.

A `Consequence` is two functions: `acts_on(happening, row)` says whether it has anything to do for that row, and
`run(s, happening, rows)` does it for the rows it acts on (never called with none). `happening` is the `Action`
(or `Event`); a row has at least the attributes in `ROW_COLUMNS` (ORM `Job` objects have them too), and a
consequence that needs more reads it itself. Because each consequence says what it acts on, the engine can tell
when no consequence acts on a statement's rows (`quiet`): the worker then writes them as one self-committing
statement, without knowing what credits, webhooks or segments care about.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Float, bindparam, column, func, text, update
from sqlalchemy.orm import Session

from shared.db.enums import JobStatus
from shared.db.models import Job
from shared.jobs.states import TRANSITIONS, Action


class Event(StrEnum):
    """Happenings that are not transitions but have consequences too."""

    CREATED = "created"  # jobs were inserted (credits are reserved here)
    CANCEL_REQUESTED = "cancel_requested"  # a running job was asked to stop (its segments are cancelled)


Happening = Action | Event


@dataclass(frozen=True)
class Consequence:
    """What a transition sets off: `run` for the rows `acts_on` picks, inside the transition's transaction."""

    acts_on: Callable[[Happening, Any], bool]
    run: Callable[[Session, Happening, Sequence[Any]], None]


#: What every row handed to a consequence carries.
ROW_COLUMNS = (Job.id, Job.user_id, Job.type, Job.status, Job.cost_credits, Job.webhook_url, Job.parent_id)
#: What the worker needs to run a claimed job (and `run_at_s`, run_at as epoch seconds: parsing a timestamptz
#: costs pg8000 a strptime, ~20 µs a row).
CLAIM_COLUMNS = (
    *ROW_COLUMNS,
    Job.payload,
    Job.priority,
    Job.attempts,
    Job.max_attempts,
    Job.timeout_s,
    Job.total,
    Job.retry_base_ms,
    Job.retry_cap_ms,
)


#: The terminal happenings: what a job's end sets off.
ENDINGS = frozenset({Action.SUCCEED, Action.FAIL, Action.CANCEL, Action.ABORT})

_consequences: list[Consequence] = []


def subscribe(*consequences: Consequence) -> None:
    """Add consequences, run in this order after every transition (the same one twice is kept once)."""
    for consequence in consequences:
        if consequence not in _consequences:
            _consequences.append(consequence)


def subscribed() -> tuple[Consequence, ...]:
    return tuple(_consequences)


def quiet(happening: Happening, jobs: Sequence[Any]) -> bool:
    """True when no subscribed consequence acts on any of these rows for this happening: a statement over them
    needs no transaction of its own for consequences, and may commit by itself."""
    return not any(c.acts_on(happening, job) for c in _consequences for job in jobs)


def notify(s: Session, happening: Happening, jobs: Sequence[Any]) -> None:
    """Run every consequence, in order, for the rows it acts on, inside `s` (the caller's transaction)."""
    for consequence in _consequences:
        picked = [job for job in jobs if consequence.acts_on(happening, job)]
        if picked:
            consequence.run(s, happening, picked)


def _statuses(action: Action) -> list[str]:
    return [str(x) for x in TRANSITIONS[action].sources]


def _transition(action: Action, where: tuple[Any, ...], values: dict[str, Any]) -> Any:
    """The conditional UPDATE of a transition: only jobs in one of the action's source states move."""
    return (
        update(Job)
        .where(Job.status.in_(_statuses(action)), *where)
        .values(status=values.pop("status", str(TRANSITIONS[action].target)), updated_at=func.now(), **values)
    )


def move(s: Session, action: Action, *where: Any, **values: Any) -> list[Job]:
    """Move every job matching `where` that is in a legal source state; returns the ORM jobs that moved."""
    statement = _transition(action, where, values).returning(Job).execution_options(synchronize_session=False)
    jobs = list(s.execute(statement).scalars().all())
    notify(s, action, jobs)
    return jobs


def move_one(s: Session, action: Action, *where: Any, **values: Any) -> Job | None:
    jobs = move(s, action, *where, **values)
    return jobs[0] if jobs else None


def move_rows(s: Session, action: Action, *where: Any, **values: Any) -> list[Any]:
    """Like `move`, returning light rows (ROW_COLUMNS) instead of loading ORM objects: the worker's path."""
    rows = list(s.execute(_transition(action, where, values).returning(*ROW_COLUMNS)))
    notify(s, action, rows)
    return rows


def created(s: Session, jobs: Sequence[Any]) -> None:
    """Jobs were inserted in `s`: run the consequences of their creation."""
    notify(s, Event.CREATED, jobs)


# --- the worker's two batch statements ---------------------------------------------------------------------------

# The claim commits without waiting for its WAL flush (synchronous_commit off for this statement's own
# transaction): a claim lost to a database crash only puts the job back where it was, runnable, and a handler's
# effect made through `JobContext.completing()` commits only while the claim holds, so nothing is lost or done
# twice; a crash in that window may run a job's work again, as any crash mid-job does. It saves one of the
# worker's two WAL flushes per batch. Every other transition (successes, failures, creation) waits for its flush.
_CLAIM_SQL = """
WITH async_commit AS (SELECT set_config('synchronous_commit', 'off', true))
UPDATE jobs SET
  status = 'running', attempts = jobs.attempts + 1, locked_by = :worker, worker_id = :worker_id,
  lease_expires_at = now() + make_interval(secs => least(jobs.timeout_s, :lease_cap_s) + :margin_s),
  started_at = coalesce(jobs.started_at, now()), updated_at = now()
FROM (
  SELECT id FROM jobs
  WHERE status IN ({sources}) AND run_at <= now()
  ORDER BY priority, run_at
  LIMIT :limit
  FOR UPDATE SKIP LOCKED
) AS picked, async_commit
WHERE jobs.id = picked.id
RETURNING {columns}
"""


def _column_list(columns: Sequence[Any]) -> str:
    return ", ".join(f"jobs.{c.key}" for c in columns)


_claim_statement = (
    text(
        _CLAIM_SQL.format(
            sources=", ".join(f"'{x}'" for x in sorted(_statuses(Action.CLAIM))),
            columns=_column_list(CLAIM_COLUMNS) + ", extract(epoch FROM jobs.run_at)::float8 AS run_at_s",
        )
    )
    .bindparams(
        bindparam("worker_id", type_=Job.__table__.c.worker_id.type),
        bindparam("lease_cap_s", type_=Job.__table__.c.timeout_s.type),
        bindparam("margin_s", type_=Job.__table__.c.timeout_s.type),
    )
    .columns(*(c.expression for c in CLAIM_COLUMNS), column("run_at_s", Float))
    .execution_options(prepared=True)
)


def claim(s: Session, *, limit: int, worker: str, worker_id: Any, lease_cap_s: int, margin_s: int) -> list[Any]:
    """Lease up to `limit` runnable jobs in one statement (priority, then run_at); `FOR UPDATE SKIP LOCKED`
    keeps concurrent workers apart. Each lease lasts the job's timeout (capped by the invocation) plus a margin."""
    rows = list(
        s.execute(
            _claim_statement,
            {
                "worker": worker,
                "worker_id": worker_id,
                "limit": limit,
                "lease_cap_s": lease_cap_s,
                "margin_s": margin_s,
            },
        )
    )
    notify(s, Action.CLAIM, rows)
    return rows


_SUCCEED_SQL = """
UPDATE jobs SET
  status = CASE WHEN jobs.failure_count > 0 THEN 'review' ELSE 'completed' END,
  result = v.result, error = NULL, error_details = NULL, progress = 100,
  locked_by = NULL, lease_expires_at = NULL, finished_at = now(), updated_at = now()
FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS v(id uuid, result jsonb)
WHERE jobs.id = v.id AND jobs.locked_by = :worker AND jobs.status IN ({sources})
RETURNING {columns}
"""

_succeed_statement = (
    text(
        _SUCCEED_SQL.format(
            sources=", ".join(f"'{x}'" for x in sorted(_statuses(Action.SUCCEED))), columns=_column_list(ROW_COLUMNS)
        )
    )
    .columns(*(c.expression for c in ROW_COLUMNS))
    .execution_options(prepared=True)
)


def succeed(s: Session, *, worker: str, results: Sequence[tuple[Any, Any]]) -> list[Any]:
    """Record many successes in one statement, each guarded like every transition (legal source, our lease).

    `results` holds (job id, JSON-able result); returns the rows that moved (a job whose lease was lost is absent).
    A job with failed items ends `review` instead of `completed` (seed 000).
    """
    payload = json.dumps([{"id": str(job_id), "result": result} for job_id, result in results])
    rows = list(s.execute(_succeed_statement, {"rows": payload, "worker": worker}))
    notify(s, Action.SUCCEED, rows)
    return rows


_RENEW_SQL = """
UPDATE jobs SET lease_expires_at = now() + make_interval(secs => :lease_s), updated_at = now()
WHERE id = :id AND locked_by = :worker AND status = 'running'
RETURNING cancel_requested_at
"""

_renew_statement = (
    text(_RENEW_SQL)
    .bindparams(
        bindparam("id", type_=Job.__table__.c.id.type), bindparam("lease_s", type_=Job.__table__.c.timeout_s.type)
    )
    .execution_options(prepared=True)
)


def renew_lease(s: Session, *, job_id: Any, worker: str, lease_s: int) -> bool | None:
    """Extend our lease; None when the job is no longer ours, else whether a cancel was requested."""
    row = s.execute(_renew_statement, {"id": job_id, "worker": worker, "lease_s": lease_s}).one_or_none()
    return None if row is None else row.cancel_requested_at is not None


def request_cancel(s: Session, *where: Any) -> list[Job]:
    """Ask the running jobs matching `where` to stop: each sees the request at its next heartbeat and ends
    `cancelled`; returns them."""
    jobs = list(
        s.execute(
            update(Job)
            .where(Job.status == JobStatus.RUNNING, *where)
            .values(cancel_requested_at=func.coalesce(Job.cancel_requested_at, func.now()), updated_at=func.now())
            .returning(Job)
            .execution_options(synchronize_session=False)
        ).scalars()
    )
    notify(s, Event.CANCEL_REQUESTED, jobs)
    return jobs
