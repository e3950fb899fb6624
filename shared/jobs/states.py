"""The job state machine: one table of legal transitions, applied only by conditional updates.

Seeds 000, 001 and 004 each had their own status enum; Conveyor's covers all three (docs/jobs.md maps them).
A transition is an UPDATE whose WHERE lists the states it may leave, so two racing actors cannot both move a
job: the loser's UPDATE matches no row. Nothing checks a status in Python and then writes. The UPDATEs and
what each one sets off live in shared/jobs/lifecycle.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from shared.db.enums import JobStatus

S = JobStatus


class Action(StrEnum):
    PROMOTE = "promote"  # a deferred job's run_at came within reach of an SQS delay
    CLAIM = "claim"  # a worker takes a runnable job
    SUCCEED = "succeed"  # ran to the end (ends `review` instead when items failed)
    RETRY_LATER = "retry_later"  # a retryable error with attempts left, or a lost lease
    FAIL = "fail"  # out of attempts, or a non-retryable error
    CANCEL = "cancel"  # cancelled before it ran (or between attempts)
    ABORT = "abort"  # a running handler saw the cancel at a heartbeat
    REQUEUE = "requeue"  # the user retries a failed or cancelled job
    COMMIT = "commit"  # the user accepts a job in review (or a failed one), seed 000's REVIEW/FAILURE → DONE
    WAIT = "wait"  # a parent fanned out segments and waits for them (resumed by PROMOTE when the last one ends)


@dataclass(frozen=True)
class Transition:
    sources: frozenset[JobStatus]
    target: JobStatus


TRANSITIONS: dict[Action, Transition] = {
    Action.PROMOTE: Transition(frozenset({S.PENDING}), S.QUEUED),
    Action.CLAIM: Transition(frozenset({S.QUEUED, S.RETRYING}), S.RUNNING),
    Action.SUCCEED: Transition(frozenset({S.RUNNING}), S.COMPLETED),
    Action.RETRY_LATER: Transition(frozenset({S.RUNNING}), S.RETRYING),
    Action.FAIL: Transition(frozenset({S.RUNNING}), S.FAILED),
    Action.CANCEL: Transition(frozenset({S.PENDING, S.QUEUED, S.RETRYING}), S.CANCELLED),
    Action.ABORT: Transition(frozenset({S.RUNNING}), S.CANCELLED),
    Action.REQUEUE: Transition(frozenset({S.FAILED, S.CANCELLED}), S.QUEUED),
    Action.COMMIT: Transition(frozenset({S.REVIEW, S.FAILED}), S.DONE),
    Action.WAIT: Transition(frozenset({S.RUNNING}), S.PENDING),
}

TERMINAL = frozenset({S.COMPLETED, S.REVIEW, S.FAILED, S.CANCELLED, S.DONE})


def legal_targets(status: JobStatus) -> set[JobStatus]:
    targets = {t.target for t in TRANSITIONS.values() if status in t.sources}
    if status == S.RUNNING:
        targets.add(S.REVIEW)  # SUCCEED with failed items
    return targets
