"""The API's request and response models for credits and payments (`/v1/credits`, `/v1/payments`).

They live here, not in functions/api/routes/, because the function's own code ships without valid .pyc and is
compiled on every cold start, while this module ships compiled in the models layer. Each model is built on first
use (`defer_build`): a request validates against a few of them, not all. No `from __future__ import annotations`:
pydantic would then compile and evaluate every annotation string while defining the classes."""

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class CreditsOut(BaseModel):
    model_config = ConfigDict(defer_build=True)

    balance: int = Field(description="Sum of the ledger: credits owned, including reserved ones.")
    reserved: int = Field(description="Held for work in progress (jobs) until captured or released.")
    available: int = Field(description="balance - reserved: what new work may reserve.")
    debt: int = Field(description="Credits refunded after they were spent; taken from the next credits added.")


class LedgerEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True, defer_build=True)

    id: uuid.UUID
    delta: int
    kind: str
    reason: str | None
    reference: str | None
    balance_after: int
    reserved_after: int
    created_at: datetime


class HistoryOut(BaseModel):
    model_config = ConfigDict(defer_build=True)

    items: list[LedgerEntryOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next (older) page; null on the last.")


class GrantIn(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    amount: Annotated[int, Field(gt=0, le=1_000_000_000, strict=True)]
    reason: Annotated[str, Field(min_length=1, max_length=500)]
    idempotency_key: Annotated[str | None, Field(min_length=1, max_length=200)] = Field(
        default=None, description="Repeating a grant with the same key grants once."
    )


class GrantOut(BaseModel):
    model_config = ConfigDict(defer_build=True)

    entry: LedgerEntryOut
    credits: CreditsOut


class PaymentOut(BaseModel):
    model_config = ConfigDict(defer_build=True)

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
    model_config = ConfigDict(defer_build=True)

    items: list[PaymentOut]
    next_cursor: str | None


class WebhookAck(BaseModel):
    model_config = ConfigDict(defer_build=True)

    received: bool = True
    outcome: str = Field(description="granted, refunded, failed, duplicate or ignored.")
    payment_id: uuid.UUID | None = None
