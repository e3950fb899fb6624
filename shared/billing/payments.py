"""Payments: a provider's webhook events (Standard Webhooks signatures) turned into credits exactly once.

The provider retries, duplicates and reorders deliveries, so every event is applied as a state transition of the
`payments` row, unique per (provider, provider_payment_id), decided under row locks in one transaction:

    (none) | pending | failed | cancelled --payment.succeeded--> succeeded   grants the credits (ledger `purchase`)
    (none) | pending                      --payment.failed-----> failed
    succeeded                             --payment.refunded---> refunded    takes the credits back (ledger `refund`)
    (none) | pending | failed | cancelled --payment.refunded---> refunded    nothing was granted, nothing to take

Any other (state, event) pair is a duplicate or stale delivery: answered 200 and ignored. The ledger's unique
(user_id, kind, reference = "payment:<id>") is a second guard against a double grant. Lock order is always the
user's credit account, then the payment row (the same as ledger operations), so deliveries cannot deadlock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import func, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from shared.billing import ledger
from shared.config import get_settings
from shared.db.enums import LedgerKind, PaymentStatus
from shared.db.models import CreditLedger, Payment, User
from shared.db.pagination import decode_cursor, encode_cursor
from shared.db.session import unit_of_work
from shared.errors import BadRequest, Conflict, InvalidInput, Unauthenticated, Unavailable

TOLERANCE_S = 5 * 60  # deliveries older or newer than this are replays or clock skew: refused
SECRET_PREFIX = "whsec_"  # noqa: S105 (the format's prefix, not a secret)
EventType = Literal["payment.succeeded", "payment.failed", "payment.refunded"]


class StaleWebhook(BadRequest):
    """A delivery without a usable timestamp, or outside the tolerance window (HTTP 400)."""

    code = "stale_webhook"


class MalformedBody(BadRequest):
    """A correctly signed body that is not UTF-8 text (HTTP 400): the sender's bug, never retried into success."""

    code = "malformed_body"


class PaymentData(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)

    payment_id: Annotated[str, Field(min_length=1, max_length=255)]
    user_id: uuid.UUID | None = None
    customer_email: Annotated[str | None, Field(max_length=320)] = None
    amount_cents: Annotated[int | None, Field(ge=0)] = None
    currency: Annotated[str, Field(pattern=r"^[A-Za-z]{3}$")] = "USD"
    credits: Annotated[int | None, Field(ge=0)] = None


class PaymentEvent(BaseModel):
    """The provider-neutral event body (documented in docs/billing.md)."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    type: EventType
    data: PaymentData

    @model_validator(mode="after")
    def _succeeded_needs_amounts(self) -> PaymentEvent:
        if self.type == "payment.succeeded" and (self.data.credits is None or self.data.amount_cents is None):
            raise ValueError("payment.succeeded needs data.credits and data.amount_cents")
        return self


@dataclass(frozen=True)
class WebhookOutcome:
    outcome: Literal["granted", "refunded", "failed", "duplicate", "ignored"]
    payment_id: uuid.UUID | None = None
    status: str | None = None


def raw_body(body: str | None, is_base64_encoded: bool) -> bytes:
    """The bytes the provider sent, from an API Gateway proxy event: base64-decoded when API Gateway encoded
    them (binary or non-UTF-8 bodies), else the UTF-8 text API Gateway decoded them into."""
    if not body:
        return b""
    return base64.b64decode(body) if is_base64_encoded else body.encode()


def _signing_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_<base64>` secret (Standard Webhooks); never echoes the secret when unusable."""
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    except ValueError:
        key = b""
    if not key:
        raise Unavailable("The payment webhook secret is malformed.", code="webhooks_not_configured")
    return key


def signature(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """The Standard Webhooks v1 signature: HMAC-SHA256 over `<id>.<timestamp>.<body bytes>`, base64."""
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(body: bytes | str, headers: Mapping[str, str], *, secret: str | None = None) -> dict[str, Any]:
    """Check the Standard Webhooks signature over the raw bytes and the timestamp, then decode: the parsed JSON
    body, or an error that stores nothing. Nothing about the body is judged before its signature holds."""
    secret = secret if secret is not None else get_settings().payments_webhook_secret
    if not secret:
        raise Unavailable("Payment webhooks are not configured.", code="webhooks_not_configured")
    raw = body.encode() if isinstance(body, str) else body
    lowered = {k.lower(): v for k, v in headers.items() if isinstance(v, str)}
    stamp = lowered.get("webhook-timestamp", "")
    try:
        sent = int(stamp)
    except ValueError:
        raise StaleWebhook("The webhook-timestamp header is missing or not a Unix time.") from None
    if abs(time.time() - sent) > TOLERANCE_S:
        raise StaleWebhook("The webhook timestamp is outside the accepted 5 minute window.")
    key = _signing_key(secret)
    msg_id = lowered.get("webhook-id", "")
    expected = signature(key, msg_id, sent, raw).encode()
    offered = lowered.get("webhook-signature", "").split(" ")  # one or more `v1,<base64>` while keys rotate
    if not msg_id or not any(hmac.compare_digest(expected, candidate.encode()) for candidate in offered):
        raise Unauthenticated("The webhook signature is not valid.", code="invalid_signature")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedBody("The webhook body is not UTF-8 text.") from None
    try:
        payload = json.loads(text)
    except ValueError:
        raise InvalidInput("The webhook body is not valid JSON.") from None
    if not isinstance(payload, dict):
        raise InvalidInput("The webhook body must be a JSON object.")
    return payload


def handle_webhook(body: bytes | str, headers: Mapping[str, str], *, s: Session | None = None) -> WebhookOutcome:
    """Verify a delivery and apply it; duplicates and unknown event types are answered 2xx and change nothing."""
    payload = verify(body, headers)
    if payload.get("type") not in get_args(EventType):
        return WebhookOutcome("ignored")
    try:
        event = PaymentEvent.model_validate(payload)
    except ValidationError as exc:
        details = [{"field": ".".join(map(str, e["loc"])), "message": e["msg"]} for e in exc.errors()]
        raise InvalidInput("The payment event is not valid.", details=details) from None
    return apply_event(event, payload, s=s)


def _user_for(s: Session, data: PaymentData) -> uuid.UUID:
    if data.user_id is not None:
        user_id = s.scalar(select(User.id).where(User.id == data.user_id))
    elif data.customer_email:
        user_id = s.scalar(select(User.id).where(func.lower(User.email) == data.customer_email.lower()))
    else:
        raise InvalidInput("The payment event names no user (data.user_id or data.customer_email).")
    if user_id is None:
        raise InvalidInput("The payment event names an unknown user.", code="unknown_user")
    return user_id


def apply_event(
    event: PaymentEvent, payload: dict[str, Any], *, provider: str | None = None, s: Session | None = None
) -> WebhookOutcome:
    """Apply a verified event as one transaction (see the state table in the module docstring)."""
    provider = provider or get_settings().payments_provider
    data = event.data
    key = (Payment.provider == provider, Payment.provider_payment_id == data.payment_id)
    with unit_of_work(s) as tx:
        known_user = tx.execute(select(Payment.id, Payment.user_id).where(*key)).one_or_none()
        user_id = known_user.user_id if known_user else _user_for(tx, data)
        account = ledger.lock_account(tx, user_id) if user_id else None
        tx.execute(
            pg_insert(Payment)
            .values(
                user_id=user_id,
                provider=provider,
                provider_payment_id=data.payment_id,
                amount_cents=data.amount_cents or 0,
                currency=data.currency.upper(),
                credits_bought=data.credits or 0,
                status=PaymentStatus.PENDING.value,
                webhook_payload=payload,
            )
            .on_conflict_do_nothing(index_elements=["provider", "provider_payment_id"])
        )
        payment = tx.scalars(
            select(Payment).where(*key).with_for_update().execution_options(populate_existing=True)
        ).one()
        if payment.user_id != user_id:  # the row's user was deleted between our read and our lock
            raise Conflict("The payment's user changed while the event was applied; retry.")
        status = PaymentStatus(payment.status)

        if event.type == "payment.succeeded" and status in (
            PaymentStatus.PENDING,
            PaymentStatus.FAILED,
            PaymentStatus.CANCELLED,
        ):
            payment.amount_cents, payment.credits_bought = data.amount_cents or 0, data.credits or 0
            payment.currency = data.currency.upper()
            _transition(tx, payment, PaymentStatus.SUCCEEDED, payload)
            if account is not None and payment.credits_bought > 0:
                ledger.credit(
                    account.user_id,
                    payment.credits_bought,
                    kind=LedgerKind.PURCHASE,
                    reason=f"Payment {data.payment_id}",
                    reference=f"payment:{payment.id}",
                    payment_id=payment.id,
                    s=tx,
                )
            return WebhookOutcome("granted", payment.id, payment.status)

        if event.type == "payment.failed" and status == PaymentStatus.PENDING:
            _transition(tx, payment, PaymentStatus.FAILED, payload)
            return WebhookOutcome("failed", payment.id, payment.status)

        if event.type == "payment.refunded" and status != PaymentStatus.REFUNDED:
            granted = _granted(tx, payment)
            _transition(tx, payment, PaymentStatus.REFUNDED, payload)
            if account is not None and granted > 0:
                ledger.take_back(
                    tx,
                    account,
                    granted,
                    reason=f"Refund of payment {data.payment_id}",
                    reference=f"payment:{payment.id}",
                    payment_id=payment.id,
                )
            return WebhookOutcome("refunded", payment.id, payment.status)

        return WebhookOutcome("duplicate", payment.id, payment.status)


def _transition(s: Session, payment: Payment, status: PaymentStatus, payload: dict[str, Any]) -> None:
    payment.status = status.value
    payment.webhook_payload = payload
    s.flush()


def _granted(s: Session, payment: Payment) -> int:
    """Credits this payment actually added (0 if it was never marked succeeded)."""
    total = s.scalar(
        select(func.coalesce(func.sum(CreditLedger.delta), 0)).where(
            CreditLedger.payment_id == payment.id, CreditLedger.kind == LedgerKind.PURCHASE.value
        )
    )
    return int(total or 0)


# --- reading ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PaymentView:
    id: uuid.UUID
    provider: str
    provider_payment_id: str
    amount_cents: int
    currency: str
    credits: int
    status: str
    unrecovered_credits: int  # refunded after the credits were spent: still owed (see docs/billing.md)
    created_at: datetime
    updated_at: datetime


def list_payments(
    user_id: uuid.UUID, *, limit: int = 50, cursor: str | None = None, s: Session | None = None
) -> ledger.Page[PaymentView]:
    """The user's payments, newest first, keyset-paginated on (created_at, id) like the credit history."""
    ledger.check_limit(limit)
    query = select(Payment).where(Payment.user_id == user_id)
    if cursor:
        query = query.where(tuple_(Payment.created_at, Payment.id) < tuple_(*decode_cursor(cursor)))
    query = query.order_by(Payment.created_at.desc(), Payment.id.desc()).limit(limit + 1)
    with unit_of_work(s) as tx:
        rows = list(tx.scalars(query))
        more = len(rows) > limit
        rows = rows[:limit]
        refunded = [p.id for p in rows if p.status == PaymentStatus.REFUNDED]
        owed = dict(
            tx.execute(
                select(CreditLedger.payment_id, func.sum(CreditLedger.delta))
                .where(CreditLedger.payment_id.in_(refunded), CreditLedger.user_id == user_id)
                .group_by(CreditLedger.payment_id)
            ).all()
            if refunded
            else []
        )
    items = [
        PaymentView(
            id=p.id,
            provider=p.provider,
            provider_payment_id=p.provider_payment_id,
            amount_cents=p.amount_cents,
            currency=p.currency,
            credits=p.credits_bought,
            status=p.status,
            unrecovered_credits=max(0, int(owed.get(p.id, 0))),
            created_at=p.created_at,
            updated_at=p.updated_at,
        )
        for p in rows
    ]
    return ledger.Page(items, encode_cursor(rows[-1].created_at, rows[-1].id) if more else None)


def signed_headers(
    secret: str, body: bytes | str, *, msg_id: str | None = None, timestamp: int | None = None
) -> dict[str, str]:
    """The Standard Webhooks headers a provider would send with `body` (tests and local tooling sign with this)."""
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    sent = int(time.time()) if timestamp is None else timestamp
    raw = body.encode() if isinstance(body, str) else body
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(sent),
        "webhook-signature": signature(_signing_key(secret), msg_id, sent, raw),
    }
