"""`/v1/credits`: the caller's balance and ledger history; `/v1/admin/users/<id>/credits`: an admin grant."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, ConfigDict, Field

from functions.api.auth import caller
from shared.billing import ledger

router = Router()


class CreditsOut(BaseModel):
    balance: int = Field(description="Sum of the ledger: credits owned, including reserved ones.")
    reserved: int = Field(description="Held for work in progress (jobs) until captured or released.")
    available: int = Field(description="balance - reserved: what new work may reserve.")
    debt: int = Field(description="Credits refunded after they were spent; taken from the next credits added.")


class LedgerEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    delta: int
    kind: str
    reason: str | None
    reference: str | None
    balance_after: int
    reserved_after: int
    created_at: datetime


class HistoryOut(BaseModel):
    items: list[LedgerEntryOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next (older) page; null on the last.")


class GrantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: Annotated[int, Field(gt=0, le=1_000_000_000)]
    reason: Annotated[str, Field(min_length=1, max_length=500)]
    idempotency_key: Annotated[str | None, Field(min_length=1, max_length=200)] = Field(
        default=None, description="Repeating a grant with the same key grants once."
    )


class GrantOut(BaseModel):
    entry: LedgerEntryOut
    credits: CreditsOut


def _credits(user_id: uuid.UUID) -> CreditsOut:
    b = ledger.balance(user_id)
    return CreditsOut(balance=b.balance, reserved=b.reserved, available=b.available, debt=b.debt)


@router.get("/v1/credits", tags=["credits"], summary="Your credit balance")
def get_credits() -> CreditsOut:
    return _credits(caller().user_id)


@router.get("/v1/credits/history", tags=["credits"], summary="Your credit ledger, newest first")
def get_credit_history(
    limit: Annotated[int, Query(ge=1, le=ledger.MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> HistoryOut:
    page = ledger.history(caller().user_id, limit=limit, cursor=cursor)
    return HistoryOut(items=[LedgerEntryOut.model_validate(e) for e in page.items], next_cursor=page.next_cursor)


@router.post("/v1/admin/users/<user_id>/credits", tags=["admin"], summary="Grant credits to a user (admin)")
def grant_credits(user_id: uuid.UUID, body: GrantIn) -> tuple[GrantOut, int]:
    # The admin's id is part of the reference: the ledger then says who granted, and keys never collide across admins.
    admin_id = caller().user_id
    reference = f"admin:{admin_id}:{body.idempotency_key or uuid.uuid4()}"
    entry = ledger.grant(user_id, body.amount, reason=body.reason, reference=reference)
    return GrantOut(entry=LedgerEntryOut.model_validate(entry), credits=_credits(user_id)), 201
