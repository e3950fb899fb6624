"""Outbound job webhooks: the URL guard, the per-user signing secret, the delivery outbox and its sender.

A job created with a `webhook_url` gets one signed POST per terminal status it reaches. The flow:

1. `check_webhook_url` (shared/outbound.py) at job creation (fast 422) and again right before every attempt.
2. `on_job_end`, a lifecycle consequence the composition roots subscribe: inside the transaction that ends the
   job it calls `enqueue_delivery`, which writes a `webhook_deliveries` row (the outbox) plus a
   `webhook.deliver` job, so the wake-up is sent only if the job's end commits.
3. `deliver`, the `webhook.deliver` handler: signs with the Standard Webhooks scheme (`webhook-id` is the
   delivery id, stable across retries, so receivers dedupe) and records every attempt on the row in its own
   transaction. 2xx delivers; a 4xx other than 408/429 fails for good; anything else retries with the job's
   exponential backoff until its attempts run out.

The signing secret lives in the credential vault (provider `conveyor_webhooks`), one per user. The user sees it
once, when `rotate_secret` makes it (POST /v1/webhooks/secret). A user who never asked for one still gets signed
webhooks: the first delivery creates a secret nobody has seen, and rotating reveals a fresh one.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import secrets
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from standardwebhooks.webhooks import Webhook

from shared.db import session
from shared.db.enums import WebhookStatus
from shared.db.models import Credential, Job, WebhookDelivery
from shared.errors import NotFound
from shared.identity import vault
from shared.jobs.context import JobContext
from shared.jobs.errors import NonRetryable, RetryableError
from shared.jobs.lifecycle import ENDINGS, Consequence, Happening
from shared.jobs.registry import job_type
from shared.jobs.service import create_job
from shared.jobs.states import Action
from shared.outbound import (
    TIMEOUT_S,
    UnresolvableHost,
    WebhookUrlRefused,
    check_webhook_url,
    post,
)

logger = Logger(child=True)

DELIVER_TYPE = "webhook.deliver"
SECRET_PROVIDER = "conveyor_webhooks"  # noqa: S105 - a vault provider name, not a secret
SECRET_LABEL = "Webhook signing secret"  # noqa: S105 - a label
SECRET_PREFIX = "whsec_"  # noqa: S105 - the Standard Webhooks prefix, not a secret
SECRET_BYTES = 32

USER_AGENT = "Conveyor-Webhooks/1.0"

# Retries: the handler's own schedule, independent of the job that triggered it.
MAX_ATTEMPTS = 10
RETRY_BASE_MS = 5_000
RETRY_CAP_MS = 3_600_000
TIMEOUT_JOB_S = 60

#: 4xx answers that mean "try later" rather than "never".
RETRYABLE_4XX = frozenset({408, 429})


# --- the signing secret -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedSecret:
    """A fresh signing secret: the only moment its plaintext leaves the vault towards the user."""

    credential_id: uuid.UUID
    secret: str
    created_at: datetime


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _store_secret(user_id: uuid.UUID) -> Credential:
    return vault.store_credential(
        user_id, provider=SECRET_PROVIDER, secret=new_secret(), label=SECRET_LABEL, is_default=True
    )


def rotate_secret(user_id: uuid.UUID) -> IssuedSecret:
    """Make a new signing secret the user's current one and drop the old ones; return it (shown once).

    Deliveries still being retried sign with the new secret from their next attempt on. The new secret is made
    the default first and only non-default ones are deleted, so at any moment a delivery finds a secret, and two
    racing rotations leave exactly one (the later one).
    """
    secret = new_secret()
    row = vault.store_credential(user_id, provider=SECRET_PROVIDER, secret=secret, label=SECRET_LABEL, is_default=True)
    for old in vault.list_credentials(user_id, provider=SECRET_PROVIDER):
        if old.id != row.id and not old.is_default:
            with contextlib.suppress(NotFound):  # a racing rotation deleted it first
                vault.delete_credential(user_id, old.id)
    return IssuedSecret(credential_id=row.id, secret=secret, created_at=row.created_at)


def secret_info(user_id: uuid.UUID) -> Credential | None:
    """The current signing secret's metadata (never its value), or None when the user has none yet."""
    rows = vault.list_credentials(user_id, provider=SECRET_PROVIDER)
    return next((r for r in rows if r.is_default), None)


def signing_secret(user_id: uuid.UUID) -> str:
    """The user's current secret for signing, creating one on first use (the user rotates to see a secret)."""
    try:
        return vault.decrypt_for_job(user_id, provider=SECRET_PROVIDER).secret
    except NotFound:
        _store_secret(user_id)
        return vault.decrypt_for_job(user_id, provider=SECRET_PROVIDER).secret


# --- the outbox -------------------------------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value is not None else None


def event_data(job: Job) -> dict[str, Any]:
    """What a receiver learns about the job: the same facts GET /v1/jobs/<id> shows, nothing internal."""
    return {
        "id": str(job.id),
        "type": job.type,
        "name": job.name,
        "status": job.status,
        "project_id": str(job.project_id) if job.project_id else None,
        "result": job.result,
        "error": job.error,
        "attempts": job.attempts,
        "progress": float(job.progress) if job.progress is not None else None,
        "counts": {
            "total": job.total,
            "success": job.success_count,
            "failure": job.failure_count,
            "skip": job.skip_count,
        },
        "timings": {
            "created_at": _iso(job.created_at),
            "started_at": _iso(job.started_at),
            "finished_at": _iso(job.finished_at),
            "committed_at": _iso(job.committed_at),
        },
    }


def enqueue_delivery(s: Session, job: Job, event: str) -> WebhookDelivery | None:
    """Queue the webhook for the job's new terminal status, inside the caller's transaction (it commits).

    Writes the outbox row and a `webhook.deliver` job whose wake-up leaves after commit; nothing happens when
    the job has no webhook URL, belongs to nobody (no signing secret to use) or is itself a delivery.
    """
    if not job.webhook_url or job.user_id is None or job.type == DELIVER_TYPE:
        return None
    # The caller may hold a Job whose status was changed by a core UPDATE: read what the transaction sees.
    current = s.execute(select(Job).where(Job.id == job.id).execution_options(populate_existing=True)).scalar_one()
    event = event if event.startswith("job.") else f"job.{event}"
    delivery = WebhookDelivery(
        id=uuid.uuid4(),
        job_id=current.id,
        url=current.webhook_url,
        event=event,
        payload={
            "type": event,
            "timestamp": _iso(current.finished_at or datetime.now(UTC)),
            "data": event_data(current),
        },
        status=WebhookStatus.PENDING.value,
    )
    s.add(delivery)
    s.flush()
    create_job(
        user_id=current.user_id,
        type=DELIVER,
        payload={"delivery_id": str(delivery.id)},
        dedupe_key=f"webhook:{delivery.id}",
        s=s,
    )
    return delivery


def list_deliveries(user_id: uuid.UUID, job_id: uuid.UUID, *, admin: bool = False) -> list[WebhookDelivery]:
    """The delivery attempts of one job, oldest first; another user's job is 'not found' (admins see all)."""
    with session() as s:
        owner = select(Job.id).where(Job.id == job_id)
        if not admin:
            owner = owner.where(Job.user_id == user_id)
        if s.scalar(owner) is None:
            raise NotFound("No such job.")
        query = (
            select(WebhookDelivery)
            .where(WebhookDelivery.job_id == job_id)
            .order_by(WebhookDelivery.created_at, WebhookDelivery.id)
        )
        return list(s.scalars(query))


# --- the webhook.deliver job type -------------------------------------------------------------------------------


class DeliverPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    delivery_id: uuid.UUID


class DeliveryAttemptFailed(RetryableError):
    """A retryable failure (5xx, 408/429, timeout, connection or DNS error): the job's backoff decides when."""


def _retry_ceiling(attempt: int) -> datetime:
    """When the retry runs at the latest (the runner picks a jittered delay up to this)."""
    delay_ms = min(RETRY_CAP_MS, RETRY_BASE_MS * 2 ** max(0, attempt - 1))
    return datetime.now(UTC) + timedelta(milliseconds=delay_ms)


def _record(
    delivery_id: uuid.UUID,
    *,
    status: WebhookStatus,
    response_status: int | None = None,
    error: str | None = None,
    next_attempt_at: datetime | None = None,
) -> None:
    """One attempt, in its own transaction; a delivery that is no longer pending is left as it is."""
    values: dict[str, Any] = {
        "attempts": WebhookDelivery.attempts + 1,
        "status": status.value,
        "response_status": response_status,
        "last_error": error[:2000] if error else None,
        "next_attempt_at": next_attempt_at if status == WebhookStatus.PENDING else None,
    }
    if status == WebhookStatus.DELIVERED:
        values["delivered_at"] = datetime.now(UTC)
    with session() as s:
        s.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id, WebhookDelivery.status == WebhookStatus.PENDING.value)
            .values(**values)
        )


def _retry_or_fail(ctx: JobContext, delivery_id: uuid.UUID, error: str, response_status: int | None = None) -> NoReturn:
    """Record a retryable failure and raise it; on the job's last attempt the delivery fails for good."""
    if ctx.last_attempt:
        _record(delivery_id, status=WebhookStatus.FAILED, response_status=response_status, error=error)
    else:
        _record(
            delivery_id,
            status=WebhookStatus.PENDING,
            response_status=response_status,
            error=error,
            next_attempt_at=_retry_ceiling(ctx.attempt),
        )
    raise DeliveryAttemptFailed(error)


def _describe(snippet: bytes) -> str:
    text = snippet.decode("utf-8", "replace").strip()
    return f": {text[:200]}" if text else ""


def signed_headers(secret: str, msg_id: str, body: str, now: datetime | None = None) -> dict[str, str]:
    """The Standard Webhooks headers for one attempt (a fresh timestamp each time: receivers reject old ones)."""
    timestamp = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, timestamp, body),
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
    }


def deliver(ctx: JobContext, payload: DeliverPayload, *, send: Callable[..., tuple[int, bytes]] = post) -> dict:
    """The `webhook.deliver` handler: one signed attempt of one outbox row."""
    with session() as s:
        found = s.execute(
            select(WebhookDelivery, Job.user_id)
            .join(Job, Job.id == WebhookDelivery.job_id)
            .where(WebhookDelivery.id == payload.delivery_id)
        ).one_or_none()
    # Users can create jobs of any type through the API: a delivery of someone else's job does not exist for them.
    if found is None or found.user_id is None or found.user_id != ctx.user_id:
        raise NonRetryable("no such webhook delivery")
    delivery: WebhookDelivery = found[0]
    if delivery.status != WebhookStatus.PENDING.value:
        return {"delivery_id": str(delivery.id), "status": delivery.status, "skipped": True}

    try:
        checked = check_webhook_url(delivery.url)
    except UnresolvableHost:
        _retry_or_fail(ctx, delivery.id, "the webhook host did not resolve")
    except WebhookUrlRefused as exc:
        reason = (exc.details or {}).get("reason", "refused")
        _record(delivery.id, status=WebhookStatus.FAILED, error=f"url refused ({reason}): {exc.message}")
        raise NonRetryable(f"webhook url refused ({reason})") from None

    try:
        secret = signing_secret(found.user_id)
        body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True)
        headers = signed_headers(secret, str(delivery.id), body)
    except vault.VaultError as exc:
        _record(delivery.id, status=WebhookStatus.FAILED, error="the signing secret failed its integrity check")
        raise NonRetryable("the webhook signing secret cannot be opened; rotate it") from exc
    except (ValueError, TypeError) as exc:  # a user-stored secret under our provider that is not base64
        _record(delivery.id, status=WebhookStatus.FAILED, error="the signing secret is not a whsec_ secret")
        raise NonRetryable("the webhook signing secret is unusable; rotate it") from exc
    del secret

    ctx.heartbeat()  # still ours and not cancelled: only then does anything leave
    try:
        status, snippet = send(checked, body.encode(), headers, timeout=TIMEOUT_S)
    except TimeoutError:
        _retry_or_fail(ctx, delivery.id, f"timed out after {TIMEOUT_S:g} s")
    except urllib.error.URLError as exc:
        reason = exc.reason
        kind = "timed out" if isinstance(reason, TimeoutError) else "connection failed"
        _retry_or_fail(ctx, delivery.id, f"{kind}: {type(reason).__name__}: {reason}")
    except (OSError, http.client.HTTPException) as exc:
        _retry_or_fail(ctx, delivery.id, f"connection failed: {type(exc).__name__}: {exc}")

    ctx.log("webhook attempt", data={"delivery_id": str(delivery.id), "status": status, "attempt": ctx.attempt})
    if 200 <= status < 300:
        _record(delivery.id, status=WebhookStatus.DELIVERED, response_status=status)
        return {"delivery_id": str(delivery.id), "status": WebhookStatus.DELIVERED.value, "response_status": status}
    error = f"HTTP {status}{_describe(snippet)}"
    if 400 <= status < 500 and status not in RETRYABLE_4XX:
        _record(delivery.id, status=WebhookStatus.FAILED, response_status=status, error=error)
        raise NonRetryable(f"the receiver refused the webhook with HTTP {status}")
    _retry_or_fail(ctx, delivery.id, error, response_status=status)


DELIVER = job_type(
    DELIVER_TYPE,
    payload=DeliverPayload,
    max_attempts=MAX_ATTEMPTS,
    retry_base_ms=RETRY_BASE_MS,
    retry_cap_ms=RETRY_CAP_MS,
    timeout_s=TIMEOUT_JOB_S,
    internal=True,  # created by job outcomes only, never through the API
)(deliver)


# --- the lifecycle consequence ----------------------------------------------------------------------------------

_NOTIFIED = ENDINGS | {Action.COMMIT}


def _acts_on(happening: Happening, job: Any) -> bool:
    return happening in _NOTIFIED and bool(job.webhook_url)


def _queue(s: Session, happening: Happening, jobs: Sequence[Any]) -> None:
    for job in jobs:
        enqueue_delivery(s, job, f"job.{job.status}")


#: Queue a webhook for each job with a URL that reached a terminal status (or was committed).
on_job_end = Consequence(acts_on=_acts_on, run=_queue)
