"""Admission: the one path every new job takes before it is stored, whoever asks for it.

The API (one job or a batch), a recurring schedule, a segment fan-out and Conveyor's own domains (automations,
media, webhooks, sales) all call `admit`, so the checks cannot drift apart:

- the type: a name given by a client or a schedule must be a type this deployment offers and *not internal*
  (internal types — webhook deliveries, derived media, publishing, sales — act on rows their payload names and
  trust it: letting a client create them is a privilege escalation). Conveyor's own code passes the `JobType`
  object itself, which is the only way to create an internal job outside a segment fan-out;
- the payload, by the type's model (422 with the fields);
- run_at (aware, not more than a day in the past), the retry policy (`max_attempts`, `retry_delay_ms`), the
  webhook URL (the SSRF guard);
- every id the request references — project, input media, parent job — belongs to the job's user (another
  user's id answers exactly like an unknown one: 404).

Checks of referenced ids are one query per kind for a whole batch.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.db.enums import JobPriority
from shared.db.models import Job, MediaFile, Project
from shared.errors import InvalidInput, NotFound
from shared.jobs.registry import JobType, get_job_type, offered
from shared.outbound import check_webhook_url

MAX_PAST = timedelta(days=1)
MAX_TIMEOUT_S = 900  # a Lambda invocation's limit
MAX_ATTEMPTS = 100
#: A job's own retry delay (the backoff's base) is at most this: with the cap raised to it, every retry is due
#: within SQS's 15-minute message delay, so its own wake-up reaches it.
MAX_RETRY_DELAY_MS = 600_000


class Origin(StrEnum):
    """Who asks for the job; decides whether internal types may be named by string."""

    API = "api"  # a client, one job or a batch
    SCHEDULE = "schedule"  # a client's recurring schedule: as untrusted as the API
    SEGMENT = "segment"  # a running job fanning out (its handler names the child type)
    SYSTEM = "system"  # Conveyor's own code (it passes JobType objects)


UNTRUSTED = frozenset({Origin.API, Origin.SCHEDULE})


@dataclass(frozen=True)
class JobRequest:
    """What a caller asks for; `type` is a name (clients) or the JobType itself (Conveyor's own code)."""

    type: str | JobType
    payload: dict[str, Any] | None = None
    priority: JobPriority = JobPriority.NORMAL
    run_at: datetime | None = None
    max_attempts: int | None = None
    #: The base of the job's exponential backoff (None: the type's `retry_base_ms`).
    retry_delay_ms: int | None = None
    timeout_s: int | None = None
    name: str | None = None
    idempotency_key: str | None = None
    dedupe_key: str | None = None
    webhook_url: str | None = None
    project_id: uuid.UUID | None = None
    input_media_id: uuid.UUID | None = None
    parent_id: uuid.UUID | None = None
    schedule_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Admitted:
    request: JobRequest
    job_type: JobType
    payload: BaseModel
    run_at: datetime
    cost: int


def resolve_type(type_: str | JobType, origin: Origin) -> JobType:
    """The JobType a request names; unknown and (for untrusted origins) internal names are refused alike."""
    if isinstance(type_, JobType):
        return type_
    spec = get_job_type(type_)
    if spec is None or (origin in UNTRUSTED and spec.internal):
        known = sorted(name for name, t in offered().items() if not (origin in UNTRUSTED and t.internal))
        raise InvalidInput(
            "Unknown job type.", code="unknown_job_type", details={"field": "type", "type": type_, "known": known}
        )
    return spec


def parse_payload(spec: JobType, payload: dict[str, Any] | None) -> BaseModel:
    try:
        return spec.payload_model.model_validate(payload or {})
    except ValidationError as exc:
        details = [
            {"field": ".".join(map(str, e["loc"])), "type": e["type"], "message": e["msg"]} for e in exc.errors()
        ]
        raise InvalidInput("The payload does not fit this job type.", code="invalid_payload", details=details) from exc


def _check_fields(request: JobRequest, now: datetime) -> datetime:
    run_at = request.run_at or now
    if run_at.tzinfo is None:
        raise InvalidInput("run_at needs a time zone.", details={"field": "run_at", "run_at": run_at.isoformat()})
    if run_at < now - MAX_PAST:
        raise InvalidInput(
            "run_at is more than a day in the past.", code="run_at_in_past", details={"run_at": run_at.isoformat()}
        )
    if request.max_attempts is not None:
        check_max_attempts(request.max_attempts)
    if request.retry_delay_ms is not None and not 0 <= request.retry_delay_ms <= MAX_RETRY_DELAY_MS:
        raise InvalidInput(f"retry_delay_ms is 0-{MAX_RETRY_DELAY_MS}.", details={"field": "retry_delay_ms"})
    if request.timeout_s is not None and not 1 <= request.timeout_s <= MAX_TIMEOUT_S:
        raise InvalidInput(f"timeout_s is 1-{MAX_TIMEOUT_S}.", details={"field": "timeout_s"})
    if request.webhook_url is not None:
        check_webhook_url(request.webhook_url)
    return run_at


def check_max_attempts(max_attempts: int) -> int:
    if not 1 <= max_attempts <= MAX_ATTEMPTS:
        raise InvalidInput(f"max_attempts is 1-{MAX_ATTEMPTS}.", details={"field": "max_attempts"})
    return max_attempts


def _owned_ids(
    s: Session | None, user_id: uuid.UUID | None, column: Any, owner: Any, ids: set[uuid.UUID]
) -> set[uuid.UUID]:
    if not ids:
        return set()
    assert s is not None, "ids to check need a session"
    query = select(column).where(column.in_(ids))
    query = query.where(owner == user_id) if user_id is not None else query.where(owner.is_(None))
    return set(s.scalars(query))


def check_references(s: Session | None, user_id: uuid.UUID | None, requests: Sequence[JobRequest]) -> None:
    """Every project, input media and parent the requests name is the user's (404 otherwise, no hint which)."""
    checks = (
        ("project_id", Project.id, Project.user_id, "No such project."),
        ("input_media_id", MediaFile.id, MediaFile.user_id, "No such media."),
        ("parent_id", Job.id, Job.user_id, "No such parent job."),
    )
    for field, column, owner, message in checks:
        wanted = {getattr(r, field) for r in requests if getattr(r, field) is not None}
        if user_id is None and field != "parent_id":
            # A system job (no user) may reference any row: there is no tenant to keep apart.
            continue
        missing = wanted - _owned_ids(s, user_id, column, owner, wanted)
        if missing:
            raise NotFound(message, details={"field": field, "id": str(sorted(missing, key=str)[0])})


def admit(s: Session, user_id: uuid.UUID | None, requests: Sequence[JobRequest], *, origin: Origin) -> list[Admitted]:
    """Validate every request (all or nothing); raises the first problem as a 4xx ConveyorError.

    For a batch, a field problem names its index in `details.index`. `s` may be None only when no request
    references an id (nothing to look up).
    """
    now = datetime.now(UTC)
    admitted: list[Admitted] = []
    for index, request in enumerate(requests):
        try:
            spec = resolve_type(request.type, origin)
            parsed = parse_payload(spec, request.payload)
            run_at = _check_fields(request, now)
        except InvalidInput as exc:
            if len(requests) > 1:
                exc.details = {"index": index, "errors": exc.details}
            raise
        cost = spec.cost(parsed) if user_id is not None else 0
        admitted.append(Admitted(request, spec, parsed, run_at, cost))
    check_references(s, user_id, requests)
    return admitted
