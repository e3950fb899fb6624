"""`/v1/credits`: the caller's balance and ledger history; `/v1/admin/users/<id>/credits`: an admin grant."""

from __future__ import annotations

import uuid
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from functions.api.auth import caller
from functions.api.params import Cursor
from functions.api.responses import extra
from shared.billing import ledger
from shared.billing.schemas import CreditsOut, GrantIn, GrantOut, HistoryOut, LedgerEntryOut

router = Router()


def _credits(user_id: uuid.UUID) -> CreditsOut:
    b = ledger.balance(user_id)
    return CreditsOut(balance=b.balance, reserved=b.reserved, available=b.available, debt=b.debt)


@router.get("/v1/credits", tags=["credits"], summary="Your credit balance")
def get_credits() -> CreditsOut:
    return _credits(caller().user_id)


@router.get("/v1/credits/history", tags=["credits"], summary="Your credit ledger, newest first")
def get_credit_history(
    limit: Annotated[int, Query(ge=1, le=ledger.MAX_PAGE)] = 50,
    cursor: Cursor = None,
) -> HistoryOut:
    page = ledger.history(caller().user_id, limit=limit, cursor=cursor)
    return HistoryOut(items=[LedgerEntryOut.model_validate(e) for e in page.items], next_cursor=page.next_cursor)


@router.post(
    "/v1/admin/users/<user_id>/credits", tags=["admin"], summary="Grant credits to a user (admin)", responses=extra(201)
)
def grant_credits(user_id: uuid.UUID, body: GrantIn) -> tuple[GrantOut, int]:
    # The admin's id is part of the reference: the ledger then says who granted, and keys never collide across admins.
    admin_id = caller().user_id
    reference = f"admin:{admin_id}:{body.idempotency_key or uuid.uuid4()}"
    entry = ledger.grant(user_id, body.amount, reason=body.reason, reference=reference)
    return GrantOut(entry=LedgerEntryOut.model_validate(entry), credits=_credits(user_id)), 201
