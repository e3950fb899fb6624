"""The API's request and response models for automations and the sale queue (`/v1/automations`, `/v1/price-presets`,
`/v1/sale-queue`).

They live here, not in functions/api/routes/, because the function's own code ships without valid .pyc and is
compiled on every cold start, while this module ships compiled in the models layer. Each model is built on first
use (`defer_build`): a request validates against a few of them, not all. No `from __future__ import annotations`:
pydantic would then compile and evaluate every annotation string while defining the classes."""

import datetime as dt
import uuid
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from shared.automations import rules as slotting
from shared.automations import sales
from shared.automations.service import Preview
from shared.db.models import Automation
from shared.fields import Flag, SortOrder


class RuleOut(BaseModel):
    model_config = ConfigDict(defer_build=True)

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
    model_config = ConfigDict(defer_build=True)

    field_name: str
    value: Any
    apply_if_empty: bool


class AutomationOut(BaseModel):
    model_config = ConfigDict(defer_build=True)

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
    def of(cls, a: Automation) -> "AutomationOut":
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
    model_config = ConfigDict(defer_build=True)

    items: list[AutomationOut]


class SlotOut(BaseModel):
    model_config = ConfigDict(defer_build=True)

    at: datetime = Field(description="UTC.")
    at_local: datetime = Field(description="The same instant in the user's time zone.")
    rule_id: uuid.UUID | None
    rule_type: str
    count: int = Field(description="How many drafts this slot takes (0 in `cut_slots`).")
    capped: int = Field(default=0, description="Drafts the daily cap took off this slot.")

    @classmethod
    def of(cls, slot: slotting.Slot, zone: ZoneInfo) -> "SlotOut":
        return cls(
            at=slot.at_utc,
            at_local=slot.at_utc.astimezone(zone),
            rule_id=slot.rule_id,
            rule_type=slot.rule_type,
            count=slot.count,
            capped=slot.capped,
        )


class DayOut(BaseModel):
    model_config = ConfigDict(defer_build=True)

    date: dt.date = Field(description="A local calendar day of the user's zone that the window touches.")
    total_items: int = Field(description="Drafts scheduled that day inside the window.")
    daily_cap: int | None = Field(description="The daily_quota capping that day; null when nothing caps it.")
    capped_items: int = Field(description="Drafts the cap cut that day inside the window.")


class PreviewOut(BaseModel):
    model_config = ConfigDict(defer_build=True)

    timezone: str
    start: datetime
    end: datetime
    total_items: int
    capped_items: int = Field(description="Drafts the daily cap cut in the window (trimmed and cut slots).")
    slots: list[SlotOut] = Field(description="The slots that fire, in order.")
    cut_slots: list[SlotOut] = Field(description="The slots the daily cap cut whole (count 0).")
    days: list[DayOut] = Field(description="Per local day: what fires, the cap, what it cut.")

    @classmethod
    def of(cls, result: Preview) -> "PreviewOut":
        zone = ZoneInfo(result.timezone)
        return cls(
            timezone=result.timezone,
            start=result.start,
            end=result.end,
            total_items=sum(x.count for x in result.slots),
            capped_items=sum(x.capped for x in (*result.slots, *result.cut)),
            slots=[SlotOut.of(x, zone) for x in result.slots],
            cut_slots=[SlotOut.of(x, zone) for x in result.cut],
            days=[
                DayOut(date=d.day, total_items=d.items, daily_cap=d.cap, capped_items=d.capped_items)
                for d in result.days
            ],
        )


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=sales.MAX_NAME_CHARS)]
Cents = Annotated[int, Field(ge=0, le=sales.MAX_PRICE_CENTS, strict=True)]
Currency = Annotated[str, Field(pattern=sales.CURRENCY_PATTERN, description="ISO 4217 code, e.g. USD.")]
Description = Annotated[str, Field(max_length=sales.MAX_DESCRIPTION_CHARS)]


# A preset has a fixed price, a range, or both (then price_cents is the display price).
PRICED: list[dict[str, list[str]]] = [
    {"required": ["price_cents"]},
    {"required": ["min_price_cents", "max_price_cents"]},
]


class PresetCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True, json_schema_extra={"anyOf": PRICED})

    name: Name
    price_cents: Cents | None = Field(default=None, description="Fixed price; defaults to min_price_cents.")
    min_price_cents: Cents | None = Field(default=None, description="With max: draw a random price in [min, max].")
    max_price_cents: Cents | None = None
    currency: Currency = "USD"
    description: Description | None = None
    is_default: Flag = False
    sort_order: SortOrder = 0

    @model_validator(mode="after")
    def _priced(self) -> "PresetCreate":
        if self.price_cents is None and (self.min_price_cents is None or self.max_price_cents is None):
            raise ValueError("A preset needs price_cents, or both min_price_cents and max_price_cents.")
        return self


class PresetUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    name: Name | None = None
    price_cents: Cents | None = None
    min_price_cents: Cents | None = Field(default=None, description="null with max null: back to a fixed price.")
    max_price_cents: Cents | None = None
    currency: Currency | None = None
    description: Description | None = None
    is_default: Flag | None = None
    sort_order: SortOrder | None = None


class PresetOut(BaseModel):
    model_config = ConfigDict(from_attributes=True, defer_build=True)

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
    model_config = ConfigDict(defer_build=True)

    items: list[PresetOut]


class EntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True, defer_build=True)

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
    screenshot_key: str | None = Field(description="The receiver's proof of the sale (an https URL), when it sent one.")
    created_at: datetime
    updated_at: datetime


class EntryList(BaseModel):
    model_config = ConfigDict(defer_build=True)

    items: list[EntryOut]
    next_offset: int | None = Field(description="Pass as `offset` for the next page; null on the last page.")
