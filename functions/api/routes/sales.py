"""`/v1/price-presets` and `/v1/sale-queue`: a user's prices and the items waiting to be put on sale (seed 002).

Every route sees the caller's rows only; another user's id answers 404 like a missing one.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from functions.api.auth import caller
from functions.api.params import Offset
from functions.api.responses import extra
from shared.automations import sales
from shared.automations.schemas import (
    EntryList,
    EntryOut,
    PresetCreate,
    PresetList,
    PresetOut,
    PresetUpdate,
)
from shared.db.enums import SaleQueueStatus

router = Router()


# --- presets ------------------------------------------------------------------------------------------------------


@router.post("/v1/price-presets", tags=["sales"], summary="Create a price preset", responses=extra(201))
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


@router.delete(
    "/v1/price-presets/<preset_id>",
    tags=["sales"],
    summary="Delete a preset no queued sale uses",
    responses=extra(204, 409),
)
def delete_preset(preset_id: uuid.UUID) -> Response[None]:
    sales.delete_preset(caller().user_id, preset_id)
    return Response(status_code=204)


# --- sale queue ---------------------------------------------------------------------------------------------------


@router.get("/v1/sale-queue", tags=["sales"], summary="Your sale queue, newest first")
def list_entries(
    status: Annotated[SaleQueueStatus | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=sales.MAX_PAGE)] = 50,
    offset: Offset = 0,
) -> EntryList:
    page = sales.list_entries(caller().user_id, status=status.value if status else None, limit=limit, offset=offset)
    return EntryList(items=[EntryOut.model_validate(e) for e in page.items], next_offset=page.next_offset)


@router.get("/v1/sale-queue/<entry_id>", tags=["sales"], summary="One sale queue entry")
def get_entry(entry_id: uuid.UUID) -> EntryOut:
    return EntryOut.model_validate(sales.get_entry(caller().user_id, entry_id))


@router.post(
    "/v1/sale-queue/<entry_id>/retry", tags=["sales"], summary="Queue a failed entry again", responses=extra(200, 409)
)
def retry_entry(entry_id: uuid.UUID) -> EntryOut:
    return EntryOut.model_validate(sales.retry_entry(caller().user_id, entry_id))


@router.delete(
    "/v1/sale-queue/<entry_id>", tags=["sales"], summary="Skip a pending or failed entry", responses=extra(200, 409)
)
def skip_entry(entry_id: uuid.UUID) -> EntryOut:
    return EntryOut.model_validate(sales.skip_entry(caller().user_id, entry_id))
