"""`/v1/price-presets` and `/v1/sale-queue`: a user's prices and the items waiting to be put on sale (seed 002).

Every route sees the caller's rows only; another user's id answers 404 like a missing one.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from functions.api.auth import caller
from shared.automations import sales
from shared.db.enums import SaleQueueStatus

router = Router()

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=sales.MAX_NAME_CHARS)]
Cents = Annotated[int, Field(ge=0, le=sales.MAX_PRICE_CENTS, strict=True)]
Currency = Annotated[str, Field(pattern=sales.CURRENCY_PATTERN, description="ISO 4217 code, e.g. USD.")]
Description = Annotated[str, Field(max_length=sales.MAX_DESCRIPTION_CHARS)]


class PresetCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    price_cents: Cents | None = Field(default=None, description="Fixed price; defaults to min_price_cents.")
    min_price_cents: Cents | None = Field(default=None, description="With max: draw a random price in [min, max].")
    max_price_cents: Cents | None = None
    currency: Currency = "USD"
    description: Description | None = None
    is_default: bool = False
    sort_order: int = Field(default=0, ge=-1_000_000, le=1_000_000)


class PresetUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    price_cents: Cents | None = None
    min_price_cents: Cents | None = Field(default=None, description="null with max null: back to a fixed price.")
    max_price_cents: Cents | None = None
    currency: Currency | None = None
    description: Description | None = None
    is_default: bool | None = None
    sort_order: int | None = Field(default=None, ge=-1_000_000, le=1_000_000)


class PresetOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    price_cents: int
    min_price_cents: int | None
    max_price_cents: int | None
    currency: str
    description: str | None
    is_default: bool
    sort_order: int
    created_at: datetime
    updated_at: datetime


class PresetList(BaseModel):
    items: list[PresetOut]


class EntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    item_id: uuid.UUID
    price_preset_id: uuid.UUID
    price_cents: int
    status: str
    attempts: int
    last_attempt_at: datetime | None
    locked_at: datetime | None
    completed_at: datetime | None
    error_message: str | None
    error_details: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime


class EntryList(BaseModel):
    items: list[EntryOut]
    next_offset: int | None = Field(description="Pass as `offset` for the next page; null on the last page.")


# --- presets ------------------------------------------------------------------------------------------------------


@router.post("/v1/price-presets", tags=["sales"], summary="Create a price preset")
def create_preset(body: PresetCreate) -> tuple[PresetOut, int]:
    preset = sales.create_preset(caller().user_id, body.model_dump())
    return PresetOut.model_validate(preset), 201


@router.get("/v1/price-presets", tags=["sales"], summary="Your price presets, in sort order")
def list_presets() -> PresetList:
    return PresetList(items=[PresetOut.model_validate(p) for p in sales.list_presets(caller().user_id)])


@router.get("/v1/price-presets/<preset_id>", tags=["sales"], summary="One price preset")
def get_preset(preset_id: uuid.UUID) -> PresetOut:
    return PresetOut.model_validate(sales.get_preset(caller().user_id, preset_id))


@router.patch("/v1/price-presets/<preset_id>", tags=["sales"], summary="Change a preset, or make it the default")
def update_preset(preset_id: uuid.UUID, body: PresetUpdate) -> PresetOut:
    changes = {k: getattr(body, k) for k in body.model_fields_set}
    for field in ("name", "price_cents", "currency", "is_default", "sort_order"):
        if field in changes and changes[field] is None:
            changes.pop(field)  # these cannot be null; leaving them out keeps the current value
    return PresetOut.model_validate(sales.update_preset(caller().user_id, preset_id, changes))


@router.delete("/v1/price-presets/<preset_id>", tags=["sales"], summary="Delete a preset no queued sale uses")
def delete_preset(preset_id: uuid.UUID) -> Response[None]:
    sales.delete_preset(caller().user_id, preset_id)
    return Response(status_code=204)


# --- sale queue ---------------------------------------------------------------------------------------------------


@router.get("/v1/sale-queue", tags=["sales"], summary="Your sale queue, newest first")
def list_entries(
    status: Annotated[SaleQueueStatus | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=sales.MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> EntryList:
    page = sales.list_entries(caller().user_id, status=status.value if status else None, limit=limit, offset=offset)
    return EntryList(items=[EntryOut.model_validate(e) for e in page.items], next_offset=page.next_offset)


@router.get("/v1/sale-queue/<entry_id>", tags=["sales"], summary="One sale queue entry")
def get_entry(entry_id: uuid.UUID) -> EntryOut:
    return EntryOut.model_validate(sales.get_entry(caller().user_id, entry_id))


@router.post("/v1/sale-queue/<entry_id>/retry", tags=["sales"], summary="Queue a failed entry again")
def retry_entry(entry_id: uuid.UUID) -> EntryOut:
    return EntryOut.model_validate(sales.retry_entry(caller().user_id, entry_id))


@router.delete("/v1/sale-queue/<entry_id>", tags=["sales"], summary="Skip a pending or failed entry")
def skip_entry(entry_id: uuid.UUID) -> EntryOut:
    return EntryOut.model_validate(sales.skip_entry(caller().user_id, entry_id))
