"""Automations pick drafts and schedule them by rules (fixed time, fixed interval, daily quota) in the user's zone.

The scheduler finds due automations by next_run_at and takes a lease (locked_by, locked_until) so two
overlapping ticks never run the same automation; `version` is bumped on every change for optimistic updates.
"""

# No `from __future__ import annotations` here: SQLAlchemy would then evaluate every `Mapped[...]` string while
# mapping the class, ~10 % of the models' import, which every function pays on each cold start.

import uuid
from datetime import datetime, time
from typing import Any

from sqlalchemy import CheckConstraint, Index, Text, func, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.db.base import Base, Timestamps, UUIDPk
from shared.db.enums import DraftSelectionMethod, ScheduleRuleType, Weekday
from shared.db.models._common import enum_check, fk, sql_list


class Automation(UUIDPk, Timestamps, Base):
    __tablename__ = "automations"

    user_id: Mapped[uuid.UUID] = fk("users.id", "CASCADE")
    name: Mapped[str]
    description: Mapped[str | None] = mapped_column(Text)
    color: Mapped[str] = mapped_column(server_default="#6366f1")
    icon: Mapped[str | None]
    sort_order: Mapped[int] = mapped_column(server_default="0")
    enabled: Mapped[bool] = mapped_column(server_default=text("false"))
    draft_selection_method: Mapped[str] = mapped_column(server_default=DraftSelectionMethod.FIFO.value)
    remote_draft_only_by_default: Mapped[bool] = mapped_column(server_default=text("false"))
    jitter_min_seconds: Mapped[int] = mapped_column(server_default="0")
    jitter_max_seconds: Mapped[int] = mapped_column(server_default="300")
    auto_add_to_sale_queue: Mapped[bool] = mapped_column(server_default=text("false"))
    sale_queue_preset_id: Mapped[uuid.UUID | None] = fk("price_presets.id", "SET NULL")
    next_run_at: Mapped[datetime | None]
    last_run_at: Mapped[datetime | None]
    # The lease replaces seed 002's isExecuting flag: a flag stays set if its holder dies, a lease expires.
    locked_by: Mapped[str | None]
    locked_at: Mapped[datetime | None]
    locked_until: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(server_default="0")

    rules: Mapped[list["AutomationRule"]] = relationship(lazy="raise", passive_deletes=True)
    default_values: Mapped[list["AutomationDefaultValue"]] = relationship(lazy="raise", passive_deletes=True)

    __table_args__ = (
        enum_check("draft_selection_method", DraftSelectionMethod),
        CheckConstraint("jitter_min_seconds >= 0 AND jitter_max_seconds >= jitter_min_seconds", name="jitter"),
        Index(None, "user_id", "enabled"),
        Index(None, "user_id", "sort_order"),
        Index(None, "sale_queue_preset_id", postgresql_where=text("sale_queue_preset_id IS NOT NULL")),
        Index("ix_automations_due", "next_run_at", postgresql_where=text("enabled")),
    )


class AutomationRule(UUIDPk, Timestamps, Base):
    """When an automation fires; the fields used depend on `type` (enforced by the `shape` CHECK)."""

    __tablename__ = "automation_rules"

    automation_id: Mapped[uuid.UUID] = fk("automations.id", "CASCADE")
    type: Mapped[str]
    time_of_day: Mapped[time | None]
    interval_minutes: Mapped[int | None]
    items_per_interval: Mapped[int | None]
    daily_quota: Mapped[int | None]
    # Empty means every day.
    days_of_week: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'"))
    priority: Mapped[int] = mapped_column(server_default="0")
    enabled: Mapped[bool] = mapped_column(server_default=text("true"))

    __table_args__ = (
        enum_check("type", ScheduleRuleType),
        CheckConstraint(f"days_of_week <@ ARRAY[{sql_list(Weekday)}]::text[]", name="days_of_week"),
        CheckConstraint(
            "(type <> 'fixed_time' OR time_of_day IS NOT NULL)"
            " AND (type <> 'fixed_interval' OR interval_minutes > 0)"
            " AND (type <> 'daily_quota' OR daily_quota > 0)",
            name="shape",
        ),
        Index(None, "automation_id"),
    )


class AutomationDefaultValue(UUIDPk, Timestamps, Base):
    """A field value an automation applies to the items it schedules (only if empty, unless told otherwise)."""

    __tablename__ = "automation_default_values"

    automation_id: Mapped[uuid.UUID] = fk("automations.id", "CASCADE")
    field_name: Mapped[str]
    value: Mapped[Any] = mapped_column(JSONB)
    apply_if_empty: Mapped[bool] = mapped_column(server_default=text("true"))

    __table_args__ = (
        Index("uq_automation_default_values_automation_id_field_name", "automation_id", "field_name", unique=True),
    )


class AutomationExecutionLog(UUIDPk, Base):
    """One run of an automation for one slot; `late` marks runs that fired after their slot (details say why)."""

    __tablename__ = "automation_execution_logs"

    automation_id: Mapped[uuid.UUID] = fk("automations.id", "CASCADE")
    rule_id: Mapped[uuid.UUID | None] = fk("automation_rules.id", "SET NULL")
    triggered_by_rule_type: Mapped[str | None]
    slot_at: Mapped[datetime | None]
    executed_at: Mapped[datetime] = mapped_column(server_default=func.now())
    scheduled_count: Mapped[int] = mapped_column(server_default="0")
    error_message: Mapped[str | None] = mapped_column(Text)
    late: Mapped[bool] = mapped_column(server_default=text("false"))
    details: Mapped[dict[str, Any] | None] = mapped_column(JSONB)

    __table_args__ = (
        enum_check("triggered_by_rule_type", ScheduleRuleType),
        Index(None, "automation_id", "executed_at"),
        Index(None, "rule_id", postgresql_where=text("rule_id IS NOT NULL")),
    )
