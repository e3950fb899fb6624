"""`/v1/automations`: rules that schedule the caller's drafts, with default values, logs and a slot preview.

Times in rules are the caller's wall clock (their profile's IANA zone); responses give instants in UTC and, where
useful, the same instants in that zone. Another user's automation answers 404, like one that does not exist.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, ConfigDict, Field

from functions.api.auth import caller
from shared.automations import service
from shared.automations.service import AutomationIn, AutomationPatch
from shared.db.models import Automation

router = Router()


class RuleOut(BaseModel):
    id: uuid.UUID
    type: str
    time_of_day: str | None
    interval_minutes: int | None
    items_per_interval: int | None
    daily_quota: int | None
    days_of_week: list[str]
    priority: int
    enabled: bool


class DefaultValueOut(BaseModel):
    field_name: str
    value: Any
    apply_if_empty: bool


class AutomationOut(BaseModel):
    id: uuid.UUID
    name: str
    description: str | None
    color: str
    icon: str | None
    sort_order: int
    enabled: bool
    draft_selection_method: str
    remote_draft_only_by_default: bool
    jitter_min_seconds: int
    jitter_max_seconds: int
    auto_add_to_sale_queue: bool
    sale_queue_preset_id: uuid.UUID | None
    next_run_at: datetime | None = Field(description="The next slot not yet handled (UTC); null while disabled.")
    last_run_at: datetime | None
    version: int
    rules: list[RuleOut]
    default_values: list[DefaultValueOut]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, a: Automation) -> AutomationOut:
        rules = sorted(a.rules, key=lambda r: (-r.priority, r.created_at, str(r.id)))
        return cls(
            id=a.id,
            name=a.name,
            description=a.description,
            color=a.color,
            icon=a.icon,
            sort_order=a.sort_order,
            enabled=a.enabled,
            draft_selection_method=a.draft_selection_method,
            remote_draft_only_by_default=a.remote_draft_only_by_default,
            jitter_min_seconds=a.jitter_min_seconds,
            jitter_max_seconds=a.jitter_max_seconds,
            auto_add_to_sale_queue=a.auto_add_to_sale_queue,
            sale_queue_preset_id=a.sale_queue_preset_id,
            next_run_at=a.next_run_at,
            last_run_at=a.last_run_at,
            version=a.version,
            rules=[
                RuleOut(
                    id=r.id,
                    type=r.type,
                    time_of_day=r.time_of_day.strftime("%H:%M") if r.time_of_day else None,
                    interval_minutes=r.interval_minutes,
                    items_per_interval=r.items_per_interval,
                    daily_quota=r.daily_quota,
                    days_of_week=list(r.days_of_week),
                    priority=r.priority,
                    enabled=r.enabled,
                )
                for r in rules
            ],
            default_values=[
                DefaultValueOut(field_name=d.field_name, value=d.value, apply_if_empty=d.apply_if_empty)
                for d in sorted(a.default_values, key=lambda d: d.field_name)
            ],
            created_at=a.created_at,
            updated_at=a.updated_at,
        )


class AutomationList(BaseModel):
    items: list[AutomationOut]


class LogOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

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
    items: list[LogOut]


class SlotOut(BaseModel):
    at: datetime = Field(description="UTC.")
    at_local: datetime = Field(description="The same instant in the user's time zone.")
    rule_id: uuid.UUID | None
    rule_type: str
    count: int = Field(description="How many drafts this slot takes.")


class PreviewOut(BaseModel):
    timezone: str
    start: datetime
    end: datetime
    total_items: int
    slots: list[SlotOut]


@router.post("/v1/automations", tags=["automations"], summary="Create an automation with its rules and defaults")
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


@router.delete("/v1/automations/<automation_id>", tags=["automations"], summary="Delete an automation")
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
    summary="The slots the rules would produce (nothing is changed)",
)
def preview_automation(
    automation_id: uuid.UUID, days: Annotated[int, Query(ge=1, le=service.MAX_PREVIEW_DAYS)] = 7
) -> PreviewOut:
    result = service.preview(caller().user_id, automation_id, days=days)
    zone = ZoneInfo(result.timezone)
    return PreviewOut(
        timezone=result.timezone,
        start=result.start,
        end=result.end,
        total_items=sum(x.count for x in result.slots),
        slots=[
            SlotOut(
                at=x.at_utc,
                at_local=x.at_utc.astimezone(zone),
                rule_id=x.rule_id,
                rule_type=x.rule_type,
                count=x.count,
            )
            for x in result.slots
        ],
    )
