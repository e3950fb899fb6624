"""Slot computation for automation rules: pure functions, no database, shared by the scheduler and the preview.

Every rule is evaluated on the wall clock of the user's IANA zone, one local day at a time, and each local time
becomes one UTC instant by `shared.jobs.schedules.local_to_utc` (the same DST rules as recurring schedules):

- a local time skipped by spring-forward fires once, at the first valid instant after the gap (02:30 in
  Europe/Madrid on the last Sunday of March fires at 03:00 CEST); several times inside one gap collapse into it;
- a local time repeated by fall-back fires once, at its first occurrence (the summer-time one).

Rule types:

- `fixed_time`: at `time_of_day` (HH:MM) on the allowed weekdays; `count` = `items_per_interval` or 1.
- `fixed_interval`: every `interval_minutes` on the wall clock, anchored at local midnight each day (00:00,
  00:00+N, … while < 24:00); `count` = `items_per_interval` (default 1). Anchoring per day keeps the slots stable
  across DST and restarts: "every 4 hours" is 00:00, 04:00, 08:00 … every day, whatever the day's length.
- `daily_quota` N, in an automation whose only enabled rules are quotas: N slots of one item each, spread evenly
  over the local day at day_start + (i + 0.5) * 24h / N on the wall clock (N = 4: 03:00, 09:00, 15:00, 21:00), to
  the second (seed 002's "5 posts per day").
- `daily_quota` N beside an enabled `fixed_time` or `fixed_interval` rule: a cap, not a source. The day's slots
  keep their order (instant, priority, rule id) and take their counts until N items are reached; the slot that
  crosses N is trimmed, the later ones are cut ("2 every 4 hours, max 10 per day" gives 2, 2, 2, 2, 2 and cuts
  20:00: 10 items, not 12 and not 12 + 10). A day is the user's local calendar day (the local date of each slot's
  instant), so a DST day of 23 or 25 hours has one cap like any other; the cap applies on the quota's own
  `days_of_week`, and two quotas on one day cap at the smaller. The cap is on the day's plan, which depends on the
  rules only: the same for any window, so the scheduler (which asks for a few minutes) and the preview (which asks
  for days) agree.

`days_of_week` (names, empty = every day) filters the *local* date of a slot, for every rule type. Only enabled
rules count. Two rules producing the same instant are both kept (each slot takes its own `count` items): a user
who adds a second rule asks for more posts, and merging would silently drop them. Slots are ordered by instant,
then by priority (higher first), then by rule id, so the order is total and repeatable.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from shared.db.enums import ScheduleRuleType, Weekday
from shared.jobs.schedules import local_to_utc

WEEKDAYS: tuple[str, ...] = tuple(w.value for w in Weekday)  # Monday first, as date.weekday() counts
DAY_S = 24 * 3600
# A weekday filter repeats weekly; 9 days also covers a zone that skipped a whole calendar day (Samoa, 2011).
NEXT_SLOT_HORIZON = timedelta(days=9)


class RuleLike(Protocol):
    """What slot computation reads from a rule: an ORM `AutomationRule` or a `Rule` both fit."""

    id: uuid.UUID | None
    type: str
    time_of_day: time | None
    interval_minutes: int | None
    items_per_interval: int | None
    daily_quota: int | None
    days_of_week: list[str]
    priority: int
    enabled: bool


@dataclass(frozen=True)
class Rule:
    """A rule detached from the database (tests, benchmarks, and rows copied out of a session)."""

    type: str
    time_of_day: time | None = None
    interval_minutes: int | None = None
    items_per_interval: int | None = None
    daily_quota: int | None = None
    days_of_week: list[str] | tuple[str, ...] = ()
    priority: int = 0
    enabled: bool = True
    id: uuid.UUID | None = None

    @classmethod
    def of(cls, rule: RuleLike) -> Rule:
        return cls(
            type=rule.type,
            time_of_day=rule.time_of_day,
            interval_minutes=rule.interval_minutes,
            items_per_interval=rule.items_per_interval,
            daily_quota=rule.daily_quota,
            days_of_week=tuple(rule.days_of_week or ()),
            priority=rule.priority,
            enabled=rule.enabled,
            id=rule.id,
        )


@dataclass(frozen=True)
class Slot:
    """One moment an automation fires: `count` drafts are scheduled for `at_utc` (plus each one's jitter)."""

    at_utc: datetime
    rule_id: uuid.UUID | None
    rule_type: str
    count: int
    priority: int = 0
    capped: int = 0  # items the daily cap took off this slot (count 0 and capped > 0: the whole slot was cut)


def _local_times(rule: RuleLike, day: date) -> list[datetime]:
    """The naive wall-clock times `rule` fires at on local date `day` (before the weekday filter)."""
    midnight = datetime.combine(day, time())
    if rule.type == ScheduleRuleType.FIXED_TIME:
        assert rule.time_of_day is not None
        return [datetime.combine(day, rule.time_of_day.replace(second=0, microsecond=0))]
    if rule.type == ScheduleRuleType.FIXED_INTERVAL:
        step_s = (rule.interval_minutes or 0) * 60
        if step_s <= 0:
            return []
        return [midnight + timedelta(seconds=s) for s in range(0, DAY_S, step_s)]
    if rule.type == ScheduleRuleType.DAILY_QUOTA:
        n = rule.daily_quota or 0
        return [midnight + timedelta(seconds=(2 * i + 1) * DAY_S // (2 * n)) for i in range(n)]
    raise ValueError(f"unknown rule type {rule.type!r}")


def _count(rule: RuleLike) -> int:
    if rule.type == ScheduleRuleType.DAILY_QUOTA:
        return 1
    return max(1, rule.items_per_interval or 1)


def _allowed(rule: RuleLike, day: date) -> bool:
    return not rule.days_of_week or WEEKDAYS[day.weekday()] in rule.days_of_week


def sources_and_caps(rules: Iterable[RuleLike]) -> tuple[list[RuleLike], list[RuleLike]]:
    """The enabled rules that make slots, and the `daily_quota` rules that cap them (see the module doc)."""
    active = [r for r in rules if r.enabled]
    sources = [r for r in active if r.type != ScheduleRuleType.DAILY_QUOTA]
    if not sources:
        return active, []
    return sources, [r for r in active if r.type == ScheduleRuleType.DAILY_QUOTA]


def slots_per_day(rules: Iterable[RuleLike]) -> int:
    """An upper bound of the slots the rules make in one local day (before any cap): what a preview costs."""
    total = 0
    for rule in sources_and_caps(rules)[0]:
        if rule.type == ScheduleRuleType.FIXED_INTERVAL:
            step = rule.interval_minutes or 0
            total += -(-24 * 60 // step) if step > 0 else 0
        elif rule.type == ScheduleRuleType.DAILY_QUOTA:
            total += rule.daily_quota or 0
        else:
            total += 1
    return total


def daily_cap(rules: Iterable[RuleLike], day: date) -> int | None:
    """The cap on local date `day` (the smallest quota allowed that day), or None when nothing caps it."""
    return _cap_of(sources_and_caps(rules)[1], day)


def _cap_of(caps: Iterable[RuleLike], day: date) -> int | None:
    found = [r.daily_quota or 0 for r in caps if _allowed(r, day)]
    return min(found) if found else None


def plan(rules: Iterable[RuleLike], tz: str | ZoneInfo, start_utc: datetime, end_utc: datetime) -> list[Slot]:
    """Every slot with start_utc <= at_utc < end_utc, including those the daily cap cut (`count` 0), in order."""
    if start_utc.tzinfo is None or end_utc.tzinfo is None:
        raise ValueError("start_utc and end_utc must be timezone-aware")
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    rules = list(rules)
    sources, caps = sources_and_caps(rules)
    if not sources or end_utc <= start_utc:
        return []
    # One local day either side: a UTC window's local dates shift by up to a day at any offset. Whole local days
    # are computed, so a day's cap counts its slots before the window too.
    first_day = start_utc.astimezone(zone).date() - timedelta(days=1)
    last_day = end_utc.astimezone(zone).date() + timedelta(days=1)
    raw: list[Slot] = []
    for rule in sources:
        count = _count(rule)
        previous: datetime | None = None
        day = first_day
        while day <= last_day:
            if _allowed(rule, day):
                for local in _local_times(rule, day):
                    at = local_to_utc(local, zone)
                    # Times collapsed onto one gap's end, or met twice, fire once.
                    if previous is not None and at <= previous:
                        continue
                    previous = at
                    raw.append(Slot(at.astimezone(UTC), rule.id, rule.type, count, rule.priority))
            day += timedelta(days=1)
    raw.sort(key=lambda s: (s.at_utc, -s.priority, str(s.rule_id)))
    if caps:
        raw = _capped(raw, caps, zone)
    return [s for s in raw if start_utc <= s.at_utc < end_utc]


def _capped(ordered: list[Slot], caps: list[RuleLike], zone: ZoneInfo) -> list[Slot]:
    """Apply each local day's cap to its slots in firing order (trim the one that crosses it, cut the rest)."""
    result: list[Slot] = []
    day: date | None = None
    left: int | None = None
    for slot in ordered:
        local_day = slot.at_utc.astimezone(zone).date()
        if local_day != day:
            day = local_day
            left = _cap_of(caps, day)
        if left is None:
            result.append(slot)
            continue
        kept = min(slot.count, left)
        left -= kept
        result.append(replace(slot, count=kept, capped=slot.count - kept))
    return result


def slots(rules: Iterable[RuleLike], tz: str | ZoneInfo, start_utc: datetime, end_utc: datetime) -> list[Slot]:
    """Every slot that fires with start_utc <= at_utc < end_utc, in firing order (see module doc): `plan` without
    the slots the daily cap cut. The scheduler and the preview both read this."""
    return [s for s in plan(rules, tz, start_utc, end_utc) if s.count > 0]


def next_slot_at(rules: Sequence[RuleLike], tz: str | ZoneInfo, after: datetime) -> datetime | None:
    """The first slot instant strictly after `after` (None when no enabled rule ever fires)."""
    start = after + timedelta(microseconds=1)
    for horizon in (timedelta(days=1), NEXT_SLOT_HORIZON):
        found = slots(rules, tz, start, after + horizon)
        if found:
            return found[0].at_utc
    return None


def jitter(min_s: int, max_s: int, rng: random.Random | None = None) -> int:
    """Whole seconds, uniform in [min_s, max_s] (both included); the publish time is slot + jitter."""
    if min_s < 0 or max_s < min_s:
        raise ValueError("need 0 <= min_s <= max_s")
    return (rng or random).randint(min_s, max_s)
