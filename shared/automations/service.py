"""Automations: CRUD with nested rules and default values, enable/disable, logs, and the slot preview.

This module (with runner.py) is the only code that writes the automation tables. Whenever an automation's rules
or enabled flag change, next_run_at is recomputed from now in the owner's zone, so the scheduler's partial index
`ix_automations_due` holds exactly the automations that can fire; slots that passed while it was disabled are
never replayed. The preview calls `rules.slots`, the very function the scheduler uses, and writes nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, selectinload

from shared.automations import rules as slotting
from shared.db import session
from shared.db.enums import DraftSelectionMethod, MatureLevel, ScheduleRuleType, UploadMode, Weekday
from shared.db.models import (
    Automation,
    AutomationDefaultValue,
    AutomationExecutionLog,
    AutomationRule,
    PricePreset,
    User,
)
from shared.errors import InvalidInput, NotFound
from shared.fields import Flag, SortOrder

MAX_NAME_CHARS = 200
MAX_RULES = 50
MAX_PAGE = 100
MAX_ITEMS_PER_SLOT = 100
MAX_DAILY_QUOTA = 1440
MIN_INTERVAL_MINUTES = 1  # the scheduler ticks once a minute
MAX_JITTER_S = 24 * 3600
MAX_PREVIEW_DAYS = 31  # the `days=` form
MAX_PREVIEW_WINDOW = timedelta(days=92)  # from/until: a quarter, enough to see one DST change whole
MAX_PREVIEW_REACH = timedelta(days=3660)  # from and until within ten years of now
MAX_PREVIEW_SLOTS = 15_000  # the rules' slots per day x the window's days (an every-minute rule: 10 days)

WeekdayName = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
SelectionName = Literal["random", "fifo", "lifo"]
RuleTypeName = Literal["fixed_time", "fixed_interval", "daily_quota"]
HHMM = Annotated[str, StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]
Color = Annotated[str, StringConstraints(pattern=r"^#[0-9a-fA-F]{6}$")]

# Item fields a default value may set, with the type its value must have (the item columns' types).
_Str = TypeAdapter(Annotated[str, StringConstraints(max_length=10_000)] | None)
_StrList = TypeAdapter(list[Annotated[str, StringConstraints(min_length=1, max_length=200)]])
_Bool = TypeAdapter(bool)
DEFAULT_FIELDS: dict[str, TypeAdapter[Any]] = {
    "description": _Str,
    "tags": _StrList,
    "category_path": _Str,
    "collection_ids": _StrList,
    "is_mature": _Bool,
    "mature_level": TypeAdapter(Literal[tuple(m.value for m in MatureLevel)] | None),  # type: ignore[misc]
    "allow_comments": _Bool,
    "allow_free_download": _Bool,
    "is_ai_generated": _Bool,
    "no_ai": _Bool,
    "remote_draft_only": _Bool,
    "add_watermark": _Bool,
    "display_resolution": TypeAdapter(Annotated[int, Field(ge=0, le=8)]),
    "upload_mode": TypeAdapter(Literal[tuple(u.value for u in UploadMode)]),  # type: ignore[misc]
}

assert {w.value for w in Weekday} == set(WeekdayName.__args__)  # type: ignore[attr-defined]
assert {d.value for d in DraftSelectionMethod} == set(SelectionName.__args__)  # type: ignore[attr-defined]


# --- schemas (the API's bodies) ---------------------------------------------------------------------------------


class RuleIn(BaseModel):
    """Which fields matter depends on `type`; the others must be left out."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    type: RuleTypeName
    time_of_day: HHMM | None = Field(default=None, description="fixed_time: HH:MM on the user's wall clock.")
    interval_minutes: int | None = Field(default=None, ge=MIN_INTERVAL_MINUTES, le=24 * 60, strict=True)
    items_per_interval: int | None = Field(default=None, ge=1, le=MAX_ITEMS_PER_SLOT, strict=True)
    daily_quota: int | None = Field(default=None, ge=1, le=MAX_DAILY_QUOTA, strict=True)
    days_of_week: list[WeekdayName] = Field(default_factory=list, description="Empty: every day.")
    priority: int = Field(
        default=0, ge=-1000, le=1000, strict=True, description="Higher fires first at the same instant."
    )
    enabled: Flag = True


class DefaultValueIn(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    field_name: str = Field(description=f"One of: {', '.join(DEFAULT_FIELDS)}.")
    value: Any
    apply_if_empty: Flag = Field(
        default=True,
        description="Only fill the field when it is empty: null, '' or [], or false / 0 where that is the "
        "item's own default (is_mature, allow_free_download, is_ai_generated, no_ai, remote_draft_only, "
        "add_watermark, display_resolution).",
    )


class AutomationIn(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    name: str = Field(min_length=1, max_length=MAX_NAME_CHARS)
    description: str | None = Field(default=None, max_length=5000)
    color: Color = "#6366f1"
    icon: str | None = Field(default=None, max_length=100)
    sort_order: SortOrder = 0
    enabled: Flag = False
    draft_selection_method: SelectionName = "fifo"
    remote_draft_only_by_default: Flag = Field(default=False, description="Seed 002's stashOnlyByDefault.")
    jitter_min_seconds: int = Field(default=0, ge=0, le=MAX_JITTER_S, strict=True)
    jitter_max_seconds: int = Field(default=300, ge=0, le=MAX_JITTER_S, strict=True)
    auto_add_to_sale_queue: Flag = False
    sale_queue_preset_id: uuid.UUID | None = None
    rules: list[RuleIn] = Field(default_factory=list, max_length=MAX_RULES)
    default_values: list[DefaultValueIn] = Field(default_factory=list, max_length=len(DEFAULT_FIELDS))


class AutomationPatch(BaseModel):
    """Fields left out stay; `rules` and `default_values`, when given, replace the whole set."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    name: str | None = Field(default=None, min_length=1, max_length=MAX_NAME_CHARS)
    description: str | None = Field(default=None, max_length=5000)
    color: Color | None = None
    icon: str | None = Field(default=None, max_length=100)
    sort_order: SortOrder | None = None
    enabled: Flag | None = None
    draft_selection_method: SelectionName | None = None
    remote_draft_only_by_default: Flag | None = None
    jitter_min_seconds: int | None = Field(default=None, ge=0, le=MAX_JITTER_S, strict=True)
    jitter_max_seconds: int | None = Field(default=None, ge=0, le=MAX_JITTER_S, strict=True)
    auto_add_to_sale_queue: Flag | None = None
    sale_queue_preset_id: uuid.UUID | None = None
    rules: list[RuleIn] | None = Field(default=None, max_length=MAX_RULES)
    default_values: list[DefaultValueIn] | None = Field(default=None, max_length=len(DEFAULT_FIELDS))


NULLABLE = frozenset({"description", "icon", "sale_queue_preset_id"})
SCALARS = (
    "name",
    "description",
    "color",
    "icon",
    "sort_order",
    "draft_selection_method",
    "remote_draft_only_by_default",
    "jitter_min_seconds",
    "jitter_max_seconds",
    "auto_add_to_sale_queue",
    "sale_queue_preset_id",
)


# --- validation -------------------------------------------------------------------------------------------------


def _check_rule(index: int, rule: RuleIn) -> None:
    """The shape a rule type needs (the table's `shape` CHECK, said with a field name before the database sees it)."""
    needed = {
        ScheduleRuleType.FIXED_TIME: {"time_of_day"},
        ScheduleRuleType.FIXED_INTERVAL: {"interval_minutes"},
        ScheduleRuleType.DAILY_QUOTA: {"daily_quota"},
    }[ScheduleRuleType(rule.type)]
    allowed = needed | ({"items_per_interval"} if rule.type != ScheduleRuleType.DAILY_QUOTA else set())
    for field in ("time_of_day", "interval_minutes", "items_per_interval", "daily_quota"):
        present = getattr(rule, field) is not None
        if field in needed and not present:
            raise InvalidInput(
                f"A {rule.type} rule needs {field}.", code="invalid_rule", details={"field": f"rules.{index}.{field}"}
            )
        if present and field not in allowed:
            raise InvalidInput(
                f"A {rule.type} rule does not take {field}.",
                code="invalid_rule",
                details={"field": f"rules.{index}.{field}"},
            )
    if len(set(rule.days_of_week)) != len(rule.days_of_week):
        raise InvalidInput("days_of_week repeats a day.", code="invalid_rule", details={"field": f"rules.{index}"})


def checked_default(field_name: str, value: Any) -> Any:
    """The value as the item column takes it; unknown fields and wrong types are refused."""
    adapter = DEFAULT_FIELDS.get(field_name)
    if adapter is None:
        raise InvalidInput(
            "This item field cannot have a default value.",
            code="invalid_default_field",
            details={"field_name": field_name, "allowed": sorted(DEFAULT_FIELDS)},
        )
    try:
        return adapter.validate_python(value, strict=True)
    except ValidationError as exc:
        raise InvalidInput(
            f"The value does not fit the item field {field_name}.",
            code="invalid_default_value",
            details={"field_name": field_name, "errors": [e["msg"] for e in exc.errors()]},
        ) from exc


def _check_defaults(values: list[DefaultValueIn]) -> list[tuple[str, Any, bool]]:
    names = [v.field_name for v in values]
    if len(set(names)) != len(names):
        raise InvalidInput("A field has two default values.", code="invalid_default_field", details={"fields": names})
    return [(v.field_name, checked_default(v.field_name, v.value), v.apply_if_empty) for v in values]


def _check_jitter(min_s: int, max_s: int) -> None:
    if min_s > max_s:
        raise InvalidInput(
            "jitter_min_seconds cannot exceed jitter_max_seconds.",
            code="invalid_jitter",
            details={"jitter_min_seconds": min_s, "jitter_max_seconds": max_s},
        )


def _check_sale_link(s: Session, user_id: uuid.UUID, automation: Automation) -> None:
    """The preset must be the caller's own; auto-adding to the sale queue needs one."""
    if automation.sale_queue_preset_id is not None:
        owner = s.scalar(select(PricePreset.user_id).where(PricePreset.id == automation.sale_queue_preset_id))
        if owner != user_id:
            raise InvalidInput("No such price preset.", details={"field": "sale_queue_preset_id"})
    if automation.auto_add_to_sale_queue and automation.sale_queue_preset_id is None:
        raise InvalidInput(
            "auto_add_to_sale_queue needs a sale_queue_preset_id.", details={"field": "sale_queue_preset_id"}
        )


# --- helpers ----------------------------------------------------------------------------------------------------


def user_zone(s: Session, user_id: uuid.UUID) -> str:
    return s.scalar(select(User.timezone).where(User.id == user_id)) or "UTC"


def _owned(s: Session, user_id: uuid.UUID, automation_id: uuid.UUID, *, lock: bool = False) -> Automation:
    """The caller's automation; a locked one comes without its rules and defaults (they are replaced by SQL)."""
    query = select(Automation).where(Automation.id == automation_id, Automation.user_id == user_id)
    if lock:
        query = query.with_for_update()
    else:
        query = query.options(selectinload(Automation.rules), selectinload(Automation.default_values))
    automation = s.scalar(query)
    if automation is None:
        raise NotFound("No such automation.")
    return automation


def _rule_rows(automation_id: uuid.UUID, rules: list[RuleIn]) -> list[AutomationRule]:
    for i, rule in enumerate(rules):
        _check_rule(i, rule)
    return [
        AutomationRule(
            automation_id=automation_id,
            type=r.type,
            time_of_day=time.fromisoformat(r.time_of_day) if r.time_of_day else None,
            interval_minutes=r.interval_minutes,
            items_per_interval=r.items_per_interval,
            daily_quota=r.daily_quota,
            days_of_week=list(r.days_of_week),
            priority=r.priority,
            enabled=r.enabled,
        )
        for r in rules
    ]


def _reschedule(s: Session, automation: Automation, now: datetime) -> None:
    """next_run_at = the first slot after now while enabled, else None: nothing missed while off is replayed."""
    rules = list(s.scalars(select(AutomationRule).where(AutomationRule.automation_id == automation.id)))
    automation.next_run_at = (
        slotting.next_slot_at(rules, user_zone(s, automation.user_id), now) if automation.enabled else None
    )


def zone_changed(s: Session, user_id: uuid.UUID, now: datetime | None = None) -> int:
    """The owner moved to another time zone: their wall-clock slots moved too. Called in the same transaction."""
    now = now or datetime.now(UTC)
    automations = list(s.scalars(select(Automation).where(Automation.user_id == user_id, Automation.enabled)))
    for automation in automations:
        _reschedule(s, automation, now)
    return len(automations)


def _reload(s: Session, automation_id: uuid.UUID) -> Automation:
    s.flush()
    s.expire_all()
    found = s.scalar(
        select(Automation)
        .where(Automation.id == automation_id)
        .options(selectinload(Automation.rules), selectinload(Automation.default_values))
    )
    assert found is not None
    return found


# --- the service ------------------------------------------------------------------------------------------------


def create_automation(user_id: uuid.UUID, data: AutomationIn) -> Automation:
    """Everything is validated before anything is written; next_run_at is set when it starts enabled."""
    _check_jitter(data.jitter_min_seconds, data.jitter_max_seconds)
    for i, rule in enumerate(data.rules):
        _check_rule(i, rule)
    defaults = _check_defaults(data.default_values)
    with session() as s:
        automation = Automation(user_id=user_id, enabled=data.enabled, **{k: getattr(data, k) for k in SCALARS})
        _check_sale_link(s, user_id, automation)
        s.add(automation)
        s.flush()
        s.add_all(_rule_rows(automation.id, data.rules))
        s.add_all(
            AutomationDefaultValue(automation_id=automation.id, field_name=f, value=v, apply_if_empty=e)
            for f, v, e in defaults
        )
        s.flush()
        _reschedule(s, automation, datetime.now(UTC))
        return _reload(s, automation.id)


def list_automations(user_id: uuid.UUID) -> list[Automation]:
    """In the user's order (sort_order, then oldest first); a user has a handful, so no paging."""
    with session() as s:
        return list(
            s.scalars(
                select(Automation)
                .where(Automation.user_id == user_id)
                .options(selectinload(Automation.rules), selectinload(Automation.default_values))
                .order_by(Automation.sort_order, Automation.created_at, Automation.id)
            )
        )


def get_automation(user_id: uuid.UUID, automation_id: uuid.UUID) -> Automation:
    with session() as s:
        return _owned(s, user_id, automation_id)


def update_automation(user_id: uuid.UUID, automation_id: uuid.UUID, patch: AutomationPatch) -> Automation:
    """Apply the fields given. The row lock waits for a scheduler run in progress on this automation.

    next_run_at is recomputed only when the rules or the enabled flag change, so renaming an automation whose
    slot is due right now does not skip that slot.
    """
    given = patch.model_fields_set
    for name in given - NULLABLE - {"rules", "default_values"}:
        if getattr(patch, name) is None:
            raise InvalidInput(f"{name} cannot be null.", details={"field": name})
    if patch.rules is not None:
        for i, rule in enumerate(patch.rules):
            _check_rule(i, rule)
    defaults = _check_defaults(patch.default_values) if patch.default_values is not None else None
    with session() as s:
        automation = _owned(s, user_id, automation_id, lock=True)
        for name in given & set(SCALARS):
            setattr(automation, name, getattr(patch, name))
        _check_jitter(automation.jitter_min_seconds, automation.jitter_max_seconds)
        _check_sale_link(s, user_id, automation)
        reschedule = False
        if "enabled" in given and patch.enabled != automation.enabled:
            automation.enabled = bool(patch.enabled)
            reschedule = True
        if patch.rules is not None:
            s.execute(delete(AutomationRule).where(AutomationRule.automation_id == automation.id))
            s.add_all(_rule_rows(automation.id, patch.rules))
            reschedule = True
        if defaults is not None:
            s.execute(delete(AutomationDefaultValue).where(AutomationDefaultValue.automation_id == automation.id))
            s.add_all(
                AutomationDefaultValue(automation_id=automation.id, field_name=f, value=v, apply_if_empty=e)
                for f, v, e in defaults
            )
        automation.version += 1
        s.flush()
        if reschedule:
            _reschedule(s, automation, datetime.now(UTC))
        return _reload(s, automation.id)


def set_enabled(user_id: uuid.UUID, automation_id: uuid.UUID, enabled: bool) -> Automation:
    return update_automation(user_id, automation_id, AutomationPatch(enabled=enabled))


def delete_automation(user_id: uuid.UUID, automation_id: uuid.UUID) -> None:
    """Rules, defaults and logs go with it; items it scheduled stay scheduled (their automation_id becomes NULL)."""
    with session() as s:
        s.delete(_owned(s, user_id, automation_id, lock=True))


def list_logs(user_id: uuid.UUID, automation_id: uuid.UUID, *, limit: int = 50) -> list[AutomationExecutionLog]:
    """Newest first."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit is 1-{MAX_PAGE}.", details={"field": "limit"})
    with session() as s:
        _owned(s, user_id, automation_id)
        return list(
            s.scalars(
                select(AutomationExecutionLog)
                .where(AutomationExecutionLog.automation_id == automation_id)
                .order_by(AutomationExecutionLog.executed_at.desc(), AutomationExecutionLog.id.desc())
                .limit(limit)
            )
        )


@dataclass(frozen=True)
class DayTotal:
    """One local calendar day of a preview window: what fires in the window, and what the daily cap cut."""

    day: date
    items: int
    cap: int | None
    capped_items: int


@dataclass(frozen=True)
class Preview:
    timezone: str
    start: datetime
    end: datetime
    slots: list[slotting.Slot]  # the slots that fire (a trimmed one has `capped` > 0)
    cut: list[slotting.Slot]  # the slots the daily cap cut whole (count 0)
    days: list[DayTotal]


def preview_window(
    *, days: int | None = None, start: datetime | None = None, until: datetime | None = None, now: datetime
) -> tuple[datetime, datetime]:
    """[start, end) of a preview: `start` (default now) until `until`, or for `days` days (default 7); bounded."""
    if days is not None and until is not None:
        raise InvalidInput("Give until or days, not both.", code="invalid_window", details={"field": "days"})
    if days is not None and not 1 <= days <= MAX_PREVIEW_DAYS:
        raise InvalidInput(f"days is 1-{MAX_PREVIEW_DAYS}.", details={"field": "days"})
    begin = start or now
    for name, value in (("from", start), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise InvalidInput(f"{name} needs a time zone.", code="invalid_window", details={"field": name})
        if value is not None and abs(value - now) > MAX_PREVIEW_REACH:
            raise InvalidInput(
                f"{name} must be within {MAX_PREVIEW_REACH.days} days of now.",
                code="invalid_window",
                details={"field": name},
            )
    end = until if until is not None else begin + timedelta(days=days or 7)
    if end <= begin:
        raise InvalidInput("until must be after from.", code="invalid_window", details={"field": "until"})
    if end - begin > MAX_PREVIEW_WINDOW:
        raise InvalidInput(
            f"A preview covers at most {MAX_PREVIEW_WINDOW.days} days.",
            code="invalid_window",
            details={"field": "until", "max_days": MAX_PREVIEW_WINDOW.days},
        )
    return begin.astimezone(UTC), end.astimezone(UTC)


def preview(
    user_id: uuid.UUID,
    automation_id: uuid.UUID,
    *,
    days: int | None = None,
    start: datetime | None = None,
    until: datetime | None = None,
    now: datetime | None = None,
) -> Preview:
    """The slots the enabled rules produce in [start, until) (default: from now for `days` = 7 days), by
    `rules.plan`, the function behind the scheduler's `rules.slots`; read-only.

    It shows what the rules would do even while the automation is disabled: that is when users try rules out. The
    window is bounded (MAX_PREVIEW_WINDOW, within MAX_PREVIEW_REACH of now) and so is the work: the rules' slots per
    day times the window's days may not pass MAX_PREVIEW_SLOTS (422 `preview_too_large`).
    """
    begin, end = preview_window(days=days, start=start, until=until, now=now or datetime.now(UTC))
    with session() as s:
        automation = _owned(s, user_id, automation_id)
        zone = user_zone(s, user_id)
        rules = [slotting.Rule.of(r) for r in automation.rules]
    window_days = -(-(end - begin) // timedelta(days=1))
    estimate = slotting.slots_per_day(rules) * window_days
    if estimate > MAX_PREVIEW_SLOTS:
        raise InvalidInput(
            f"This preview would list about {estimate} slots; at most {MAX_PREVIEW_SLOTS}: shorten the window.",
            code="preview_too_large",
            details={"estimated_slots": estimate, "max_slots": MAX_PREVIEW_SLOTS},
        )
    tz = ZoneInfo(zone)
    planned = slotting.plan(rules, tz, begin, end)
    totals: dict[date, list[int]] = {}
    day = begin.astimezone(tz).date()
    last = (end - timedelta(microseconds=1)).astimezone(tz).date()
    while day <= last:
        totals[day] = [0, 0]
        day += timedelta(days=1)
    for slot in planned:
        total = totals.setdefault(slot.at_utc.astimezone(tz).date(), [0, 0])
        total[0] += slot.count
        total[1] += slot.capped
    return Preview(
        timezone=zone,
        start=begin,
        end=end,
        slots=[x for x in planned if x.count > 0],
        cut=[x for x in planned if x.count == 0],
        days=[DayTotal(d, items, slotting.daily_cap(rules, d), capped) for d, (items, capped) in totals.items()],
    )
