"""`/v1/automations`: rules that schedule the caller's drafts, with default values, logs and a slot preview.

Times in rules are the caller's wall clock (their profile's IANA zone); responses give instants in UTC and, where
useful, the same instants in that zone. Another user's automation answers 404, like one that does not exist.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, ConfigDict

from functions.api.auth import caller
from functions.api.responses import extra
from shared.automations import service
from shared.automations.schemas import AutomationList, AutomationOut, PreviewOut
from shared.automations.service import AutomationIn, AutomationPatch
from shared.fields import Timestamp

router = Router()


# LogOut and LogList stay here: jobs has models of the same names, so OpenAPI names both pairs by their module's path
# (`functions__api__routes__automations__LogOut`), and moving them would rename them in the published schema.
class LogOut(BaseModel):
    model_config = ConfigDict(from_attributes=True, defer_build=True)

    id: uuid.UUID
    executed_at: datetime
    slot_at: datetime | None
    rule_id: uuid.UUID | None
    triggered_by_rule_type: str | None
    scheduled_count: int
    late: bool
    error_message: str | None
    details: dict[str, Any] | None


class LogList(BaseModel):
    model_config = ConfigDict(defer_build=True)

    items: list[LogOut]


@router.post(
    "/v1/automations",
    tags=["automations"],
    summary="Create an automation with its rules and defaults",
    responses=extra(201),
)
def create_automation(body: AutomationIn) -> tuple[AutomationOut, int]:
    return AutomationOut.of(service.create_automation(caller().user_id, body)), 201


@router.get("/v1/automations", tags=["automations"], summary="Your automations, in your order")
def list_automations() -> AutomationList:
    return AutomationList(items=[AutomationOut.of(a) for a in service.list_automations(caller().user_id)])


@router.get("/v1/automations/<automation_id>", tags=["automations"], summary="One automation")
def get_automation(automation_id: uuid.UUID) -> AutomationOut:
    return AutomationOut.of(service.get_automation(caller().user_id, automation_id))


@router.patch("/v1/automations/<automation_id>", tags=["automations"], summary="Change an automation")
def update_automation(automation_id: uuid.UUID, body: AutomationPatch) -> AutomationOut:
    return AutomationOut.of(service.update_automation(caller().user_id, automation_id, body))


@router.delete(
    "/v1/automations/<automation_id>", tags=["automations"], summary="Delete an automation", responses=extra(204)
)
def delete_automation(automation_id: uuid.UUID) -> Response[None]:
    service.delete_automation(caller().user_id, automation_id)
    return Response(status_code=204)


@router.post("/v1/automations/<automation_id>/enable", tags=["automations"], summary="Start firing from now")
def enable_automation(automation_id: uuid.UUID) -> AutomationOut:
    return AutomationOut.of(service.set_enabled(caller().user_id, automation_id, True))


@router.post("/v1/automations/<automation_id>/disable", tags=["automations"], summary="Stop firing")
def disable_automation(automation_id: uuid.UUID) -> AutomationOut:
    return AutomationOut.of(service.set_enabled(caller().user_id, automation_id, False))


@router.get("/v1/automations/<automation_id>/logs", tags=["automations"], summary="Execution logs, newest first")
def list_logs(automation_id: uuid.UUID, limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE)] = 50) -> LogList:
    return LogList(
        items=[LogOut.model_validate(x) for x in service.list_logs(caller().user_id, automation_id, limit=limit)]
    )


@router.get(
    "/v1/automations/<automation_id>/preview",
    tags=["automations"],
    summary="The slots the rules would produce in a window, with the daily cap (nothing is changed)",
)
def preview_automation(
    automation_id: uuid.UUID,
    start: Annotated[
        Timestamp | None,
        Query(alias="from", description="Inclusive, with a time zone; default now. Within ten years of now."),
    ] = None,
    until: Annotated[
        Timestamp | None,
        Query(description=f"Exclusive, with a time zone; at most {service.MAX_PREVIEW_WINDOW.days} days after from."),
    ] = None,
    days: Annotated[
        int | None, Query(ge=1, le=service.MAX_PREVIEW_DAYS, description="Instead of until: from + days (default 7).")
    ] = None,
) -> PreviewOut:
    return PreviewOut.of(service.preview(caller().user_id, automation_id, days=days, start=start, until=until))
