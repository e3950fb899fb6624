"""`/v1/payments`: the caller's payments; `/v1/payments/webhook`: the provider's signed events (public route)."""

from __future__ import annotations

import base64
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from functions.api.auth import caller
from shared.billing import ledger, payments
from shared.billing.schemas import PaymentList, PaymentOut, WebhookAck

router = Router()


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
