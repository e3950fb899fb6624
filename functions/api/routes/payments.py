"""`/v1/payments`: the caller's payments; `/v1/payments/webhook`: the provider's signed events (public route)."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, Field

from functions.api.auth import caller
from shared.billing import ledger, payments

router = Router()


class PaymentOut(BaseModel):
    id: uuid.UUID
    provider: str
    provider_payment_id: str
    amount_cents: int
    currency: str
    credits: int
    status: str
    unrecovered_credits: int = Field(description="For a refund after the credits were spent: still owed.")
    created_at: datetime
    updated_at: datetime


class PaymentList(BaseModel):
    items: list[PaymentOut]
    next_cursor: str | None


class WebhookAck(BaseModel):
    received: bool = True
    outcome: str = Field(description="granted, refunded, failed, duplicate or ignored.")
    payment_id: uuid.UUID | None = None


@router.get("/v1/payments", tags=["payments"], summary="Your payments, newest first")
def list_payments(
    limit: Annotated[int, Query(ge=1, le=ledger.MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> PaymentList:
    page = payments.list_payments(caller().user_id, limit=limit, cursor=cursor)
    return PaymentList(items=[PaymentOut(**vars(p)) for p in page.items], next_cursor=page.next_cursor)


@router.post("/v1/payments/webhook", tags=["payments"], summary="Payment provider events (Standard Webhooks)")
def payment_webhook() -> WebhookAck:
    # The signature covers the exact bytes sent, so the raw body is verified before anything parses it.
    event = router.current_event
    body = event.body or ""
    if event.is_base64_encoded:
        body = base64.b64decode(body).decode("utf-8", errors="replace")
    outcome = payments.handle_webhook(body, dict(event.headers or {}))
    return WebhookAck(outcome=outcome.outcome, payment_id=outcome.payment_id)
