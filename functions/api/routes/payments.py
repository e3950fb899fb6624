"""`/v1/payments`: the caller's payments; `/v1/payments/webhook`: the provider's signed events (public route)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from functions.api.auth import caller
from functions.api.params import Cursor
from functions.api.responses import extra
from shared.billing import ledger, payments
from shared.billing.schemas import PaymentList, PaymentOut, WebhookAck

router = Router()


@router.get("/v1/payments", tags=["payments"], summary="Your payments, newest first")
def list_payments(
    limit: Annotated[int, Query(ge=1, le=ledger.MAX_PAGE)] = 50,
    cursor: Cursor = None,
) -> PaymentList:
    page = payments.list_payments(caller().user_id, limit=limit, cursor=cursor)
    return PaymentList(items=[PaymentOut(**vars(p)) for p in page.items], next_cursor=page.next_cursor)


@router.post(
    "/v1/payments/webhook",
    tags=["payments"],
    summary="Payment provider events (Standard Webhooks)",
    responses=extra(200, 400, 401, 409, 413),
)
def payment_webhook() -> WebhookAck:
    # The signature covers the exact bytes sent, so the raw body is verified before anything parses it.
    event = router.current_event
    body = payments.raw_body(event.body, event.is_base64_encoded)
    outcome = payments.handle_webhook(body, dict(event.headers or {}))
    return WebhookAck(outcome=outcome.outcome, payment_id=outcome.payment_id)
