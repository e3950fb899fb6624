"""Slot computation for automation rules: each rule type across DST changes, weekday filters, quotas, jitter."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from shared.automations.rules import Rule, daily_cap, jitter, next_slot_at, plan, slots

MADRID = ZoneInfo("Europe/Madrid")
NEW_YORK = ZoneInfo("America/New_York")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def local_day(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC window of one local calendar day."""
    start = datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=zone).astimezone(UTC)
    return start, end


def at(found: list) -> list[datetime]:  # type: ignore[type-arg]
    return [s.at_utc for s in found]


# --- fixed_time -------------------------------------------------------------------------------------------------


def test_fixed_time_in_the_madrid_spring_gap_fires_once_at_the_end_of_the_gap() -> None:
    # Given 02:30 every day in Madrid, where 2025-03-30 jumps from 02:00 CET to 03:00 CEST
    rule = Rule(type="fixed_time", time_of_day=time(2, 30))

    # When the slots of three days around the change are computed
    found = slots([rule], MADRID, utc(2025, 3, 29), utc(2025, 4, 1))

    # Then the skipped day fires at 03:00 CEST (01:00 UTC), the others at 02:30 local
    assert at(found) == [utc(2025, 3, 29, 1, 30), utc(2025, 3, 30, 1, 0), utc(2025, 3, 31, 0, 30)]
    assert all(s.count == 1 and s.rule_type == "fixed_time" for s in found)


def test_fixed_time_in_the_madrid_autumn_overlap_fires_once_at_the_first_occurrence() -> None:
    # Given 02:30 every day in Madrid, where 2025-10-26 repeats 02:00-03:00
    rule = Rule(type="fixed_time", time_of_day=time(2, 30))

    found = slots([rule], MADRID, utc(2025, 10, 25), utc(2025, 10, 28))

    # Then 2025-10-26 fires once, at 02:30 CEST (00:30 UTC), not again at 02:30 CET
    assert at(found) == [utc(2025, 10, 25, 0, 30), utc(2025, 10, 26, 0, 30), utc(2025, 10, 27, 1, 30)]


def test_fixed_time_keeps_the_local_hour_across_new_york_spring_forward() -> None:
    # Given 09:00 every day in New York (2025-03-09: EST → EDT)
    rule = Rule(type="fixed_time", time_of_day=time(9, 0))

    found = slots([rule], NEW_YORK, utc(2025, 3, 8), utc(2025, 3, 10))

    # Then it stays 09:00 local, so 14:00 UTC becomes 13:00 UTC
    assert at(found) == [utc(2025, 3, 8, 14), utc(2025, 3, 9, 13)]


def test_fixed_time_in_the_new_york_autumn_overlap_fires_once() -> None:
    # Given 01:30 every day in New York, a time that happens twice on 2025-11-02
    rule = Rule(type="fixed_time", time_of_day=time(1, 30))

    found = slots([rule], NEW_YORK, utc(2025, 11, 1, 12), utc(2025, 11, 3, 12))

    # Then only its first occurrence (01:30 EDT = 05:30 UTC) fires, and the next day 01:30 EST
    assert at(found) == [utc(2025, 11, 2, 5, 30), utc(2025, 11, 3, 6, 30)]


def test_fixed_time_in_the_new_york_spring_gap_moves_to_03_00() -> None:
    rule = Rule(type="fixed_time", time_of_day=time(2, 15))

    found = slots([rule], NEW_YORK, utc(2025, 3, 9), utc(2025, 3, 10))

    # 02:15 does not exist on 2025-03-09: 03:00 EDT = 07:00 UTC
    assert at(found) == [utc(2025, 3, 9, 7)]


# --- fixed_interval ---------------------------------------------------------------------------------------------


def test_hourly_interval_on_the_madrid_spring_day_has_23_distinct_slots() -> None:
    # Given every 60 minutes, two items each, anchored at local midnight
    rule = Rule(type="fixed_interval", interval_minutes=60, items_per_interval=2)
    start, end = local_day(date(2025, 3, 30), MADRID)

    found = slots([rule], MADRID, start, end)

    # Then the 23-hour day has 23 slots, one hour apart (02:00 collapses onto 03:00), two items each
    assert len(found) == 23
    assert {b - a for a, b in zip(at(found), at(found)[1:], strict=False)} == {timedelta(hours=1)}
    assert all(s.count == 2 for s in found)


def test_hourly_interval_on_the_madrid_autumn_day_fires_each_wall_clock_hour_once() -> None:
    rule = Rule(type="fixed_interval", interval_minutes=60)
    start, end = local_day(date(2025, 10, 26), MADRID)

    found = slots([rule], MADRID, start, end)

    # The 25-hour day has 24 slots: 02:00 fires once (CEST), so 02:00 → 03:00 local spans two real hours
    local = [s.at_utc.astimezone(MADRID).strftime("%H:%M") for s in found]
    assert local == [f"{h:02d}:00" for h in range(24)]
    assert found[3].at_utc - found[2].at_utc == timedelta(hours=2)


def test_interval_in_new_york_across_both_changes() -> None:
    # Every 4 hours from local midnight: 00, 04, 08, 12, 16, 20 on every day, whatever its length
    rule = Rule(type="fixed_interval", interval_minutes=240)
    for day in (date(2025, 3, 9), date(2025, 11, 2)):
        start, end = local_day(day, NEW_YORK)
        found = slots([rule], NEW_YORK, start, end)
        assert [s.at_utc.astimezone(NEW_YORK).hour for s in found] == [0, 4, 8, 12, 16, 20]
    # ...and 04:00 EDT on the spring day is 08:00 UTC, 04:00 EST on the autumn day is 09:00 UTC
    assert utc(2025, 3, 9, 8) in at(slots([rule], NEW_YORK, *local_day(date(2025, 3, 9), NEW_YORK)))
    assert utc(2025, 11, 2, 9) in at(slots([rule], NEW_YORK, *local_day(date(2025, 11, 2), NEW_YORK)))


def test_an_interval_that_does_not_divide_the_day_restarts_at_midnight() -> None:
    rule = Rule(type="fixed_interval", interval_minutes=7 * 60)

    found = slots([rule], ZoneInfo("UTC"), utc(2025, 1, 1), utc(2025, 1, 3))

    assert [s.at_utc.hour for s in found] == [0, 7, 14, 21, 0, 7, 14, 21]


# --- daily_quota ------------------------------------------------------------------------------------------------


def test_daily_quota_spreads_evenly_over_the_local_day() -> None:
    # Given 5 a day in Madrid on an ordinary day
    rule = Rule(type="daily_quota", daily_quota=5)

    found = slots([rule], MADRID, *local_day(date(2025, 6, 10), MADRID))

    # Then 5 one-item slots at the middle of each fifth of the day
    local = [s.at_utc.astimezone(MADRID).strftime("%H:%M") for s in found]
    assert local == ["02:24", "07:12", "12:00", "16:48", "21:36"]
    assert all(s.count == 1 for s in found)


def test_daily_quota_keeps_wall_clock_times_across_madrid_changes() -> None:
    rule = Rule(type="daily_quota", daily_quota=4)
    for day in (date(2025, 3, 30), date(2025, 10, 26)):
        found = slots([rule], MADRID, *local_day(day, MADRID))
        assert [s.at_utc.astimezone(MADRID).hour for s in found] == [3, 9, 15, 21]
    # 03:00 on the spring day is already CEST (01:00 UTC); on the autumn day it is CET (02:00 UTC)
    assert at(slots([rule], MADRID, *local_day(date(2025, 3, 30), MADRID)))[0] == utc(2025, 3, 30, 1)
    assert at(slots([rule], MADRID, *local_day(date(2025, 10, 26), MADRID)))[0] == utc(2025, 10, 26, 2)


def test_daily_quota_slot_inside_the_new_york_gap_moves_to_its_end() -> None:
    # 24 a day: 02:30 does not exist on 2025-03-09 and moves to 03:00 EDT, still before 03:30
    rule = Rule(type="daily_quota", daily_quota=24)

    found = slots([rule], NEW_YORK, *local_day(date(2025, 3, 9), NEW_YORK))

    assert len(found) == 24
    assert utc(2025, 3, 9, 7, 0) in at(found)
    assert len(set(at(found))) == 24


def local_hm(found: list, zone: ZoneInfo) -> list[tuple[str, int]]:  # type: ignore[type-arg]
    return [(s.at_utc.astimezone(zone).strftime("%H:%M"), s.count) for s in found]


def test_a_quota_beside_an_interval_caps_the_day_instead_of_adding_slots() -> None:
    # Given "2 every 4 hours, max 10 per day" in New York on an ordinary day
    every_4h = Rule(type="fixed_interval", interval_minutes=240, items_per_interval=2, id=uuid.uuid4())
    cap = Rule(type="daily_quota", daily_quota=10, id=uuid.uuid4())
    day = local_day(date(2025, 6, 10), NEW_YORK)

    found = slots([every_4h, cap], NEW_YORK, *day)

    # Then the day has 10 items, not 12 (the interval alone) nor 22 (the quota's slots added)
    assert local_hm(found, NEW_YORK) == [("00:00", 2), ("04:00", 2), ("08:00", 2), ("12:00", 2), ("16:00", 2)]
    assert sum(s.count for s in found) == 10
    assert {s.rule_id for s in found} == {every_4h.id}
    # And the plan shows the 20:00 slot, cut by the cap
    cut = [s for s in plan([every_4h, cap], NEW_YORK, *day) if s.capped]
    assert local_hm(cut, NEW_YORK) == [("20:00", 0)]
    assert cut[0].capped == 2


def test_the_slot_that_crosses_the_cap_is_trimmed_in_firing_order() -> None:
    # Given a 09:00 post of 3 (priority 5) and hourly posts from midnight, at most 5 a day (UTC)
    morning = Rule(type="fixed_time", time_of_day=time(9), items_per_interval=3, priority=5, id=uuid.uuid4())
    hourly = Rule(type="fixed_interval", interval_minutes=60, id=uuid.uuid4())
    cap = Rule(type="daily_quota", daily_quota=5)
    zone = ZoneInfo("UTC")

    found = plan([hourly, morning, cap], zone, utc(2025, 1, 1), utc(2025, 1, 2))

    # Then the first five hourly slots take the five items, and both 09:00 slots are cut whole
    kept = [(s.at_utc.hour, s.count) for s in found if s.count]
    assert kept == [(0, 1), (1, 1), (2, 1), (3, 1), (4, 1)]
    assert [(s.at_utc.hour, s.capped) for s in found if s.at_utc.hour == 9] == [(9, 3), (9, 1)]


def test_the_cap_trims_a_slot_that_would_pass_it() -> None:
    every_12h = Rule(type="fixed_interval", interval_minutes=720, items_per_interval=2)
    cap = Rule(type="daily_quota", daily_quota=3)

    found = plan([every_12h, cap], MADRID, *local_day(date(2025, 6, 10), MADRID))

    assert [(s.count, s.capped) for s in found] == [(2, 0), (1, 1)]


def test_the_cap_counts_the_local_calendar_day_on_a_23_hour_dst_day() -> None:
    # Given hourly posts capped at 20 a day in Madrid, on the spring day (02:00-03:00 does not exist)
    hourly = Rule(type="fixed_interval", interval_minutes=60)
    cap = Rule(type="daily_quota", daily_quota=20)
    spring = local_day(date(2025, 3, 30), MADRID)

    found = slots([hourly, cap], MADRID, *spring)

    # Then the day's 23 distinct slots are cut to the first 20 of that local day: 00, 01, 03 … 20
    hours = [s.at_utc.astimezone(MADRID).hour for s in found]
    assert hours == [0, 1, *range(3, 20 + 1)]
    assert len(found) == 20
    # And the next local day starts a new count at its own midnight (22:00 UTC the evening before)
    next_day = slots([hourly, cap], MADRID, *local_day(date(2025, 3, 31), MADRID))
    assert len(next_day) == 20
    assert next_day[0].at_utc == utc(2025, 3, 30, 22)


def test_the_cap_counts_the_local_day_on_a_25_hour_dst_day_not_the_utc_day() -> None:
    # Given every 30 minutes capped at 47 in New York on the autumn day (01:00-02:00 happens twice)
    half_hour = Rule(type="fixed_interval", interval_minutes=30)
    cap = Rule(type="daily_quota", daily_quota=47)
    autumn = local_day(date(2025, 11, 2), NEW_YORK)

    found = plan([half_hour, cap], NEW_YORK, *autumn)

    # Then the 48 wall-clock slots (the repeated hour fires once) lose only the last, 23:30
    assert autumn[1] - autumn[0] == timedelta(hours=25)
    assert len(found) == 48
    assert [s.at_utc.astimezone(NEW_YORK).strftime("%H:%M") for s in found if s.count == 0] == ["23:30"]
    assert sum(s.count for s in found) == 47


def test_the_cap_is_the_same_whatever_the_window_and_follows_its_weekdays() -> None:
    # Given every 4 hours (2 items) capped at 5 on weekdays only, in New York
    every_4h = Rule(type="fixed_interval", interval_minutes=240, items_per_interval=2)
    cap = Rule(type="daily_quota", daily_quota=5, days_of_week=("monday", "tuesday", "wednesday", "thursday", "friday"))
    rules = [every_4h, cap]
    tuesday, saturday = date(2025, 6, 10), date(2025, 6, 14)

    # Then a window starting mid-day still counts the day's earlier slots (the scheduler asks for minutes)
    whole = slots(rules, NEW_YORK, *local_day(tuesday, NEW_YORK))
    afternoon = slots(rules, NEW_YORK, whole[2].at_utc, local_day(tuesday, NEW_YORK)[1])
    assert afternoon == whole[2:]
    assert [s.count for s in whole] == [2, 2, 1]
    # And Saturday is not capped; two quotas on one day cap at the smaller
    assert sum(s.count for s in slots(rules, NEW_YORK, *local_day(saturday, NEW_YORK))) == 12
    assert daily_cap([*rules, Rule(type="daily_quota", daily_quota=3)], tuesday) == 3
    assert daily_cap(rules, saturday) is None
    # A quota alone is a source, never a cap
    assert daily_cap([cap], tuesday) is None


def test_next_slot_skips_the_slots_the_cap_cut() -> None:
    every_4h = Rule(type="fixed_interval", interval_minutes=240, items_per_interval=2)
    cap = Rule(type="daily_quota", daily_quota=4)
    zone = ZoneInfo("UTC")

    # After 04:00 the day's 4 items are taken: the next slot is tomorrow's midnight
    assert next_slot_at([every_4h, cap], zone, utc(2025, 1, 1, 4)) == utc(2025, 1, 2)


# --- weekdays, ordering, windows ---------------------------------------------------------------------------------


def test_weekday_filter_uses_the_local_date() -> None:
    # Given 23:30 on Mondays and Fridays in New York (already Tuesday and Saturday in UTC), over two weeks
    rule = Rule(type="fixed_time", time_of_day=time(23, 30), days_of_week=("monday", "friday"))

    found = slots([rule], NEW_YORK, utc(2025, 6, 1), utc(2025, 6, 15))

    # Then the local weekdays are the chosen ones
    assert [s.at_utc.astimezone(NEW_YORK).strftime("%a %d") for s in found] == ["Mon 02", "Fri 06", "Mon 09", "Fri 13"]
    assert {s.at_utc.strftime("%a") for s in found} == {"Tue", "Sat"}


def test_weekday_filter_applies_to_intervals_and_quotas() -> None:
    interval = Rule(type="fixed_interval", interval_minutes=720, days_of_week=("sunday",))
    quota = Rule(type="daily_quota", daily_quota=2, days_of_week=("saturday",))
    week = (utc(2025, 6, 1), utc(2025, 6, 8))

    intervals = slots([interval], MADRID, *week)
    quotas = slots([quota], MADRID, *week)

    assert [s.at_utc.astimezone(MADRID).strftime("%a %H:%M") for s in intervals] == ["Sun 12:00", "Sun 00:00"]
    assert [s.at_utc.astimezone(MADRID).strftime("%a %H:%M") for s in quotas] == ["Sat 06:00", "Sat 18:00"]
    # Beside an interval a quota is a cap, never a source: the Saturday quota caps nothing on Sunday
    assert slots([interval, quota], MADRID, *week) == intervals


def test_two_rules_at_the_same_instant_are_both_kept_higher_priority_first() -> None:
    low = Rule(type="fixed_time", time_of_day=time(12), priority=0, id=uuid.uuid4())
    high = Rule(type="fixed_interval", interval_minutes=720, items_per_interval=3, priority=5, id=uuid.uuid4())

    found = slots([low, high], ZoneInfo("UTC"), utc(2025, 1, 1, 11), utc(2025, 1, 1, 13))

    assert [(s.rule_id, s.count) for s in found] == [(high.id, 3), (low.id, 1)]


def test_disabled_rules_produce_nothing_and_the_window_is_half_open() -> None:
    off = Rule(type="fixed_time", time_of_day=time(12), enabled=False)
    on = Rule(type="fixed_time", time_of_day=time(12))

    assert slots([off], ZoneInfo("UTC"), utc(2025, 1, 1), utc(2025, 1, 3)) == []
    assert at(slots([on], ZoneInfo("UTC"), utc(2025, 1, 1, 12), utc(2025, 1, 2, 12))) == [utc(2025, 1, 1, 12)]


def test_next_slot_finds_a_weekly_slot_and_none_without_rules() -> None:
    weekly = Rule(type="fixed_time", time_of_day=time(8), days_of_week=("wednesday",))

    # Wednesday 2025-06-04 08:00 UTC has just passed: the next one is a week later
    assert next_slot_at([weekly], "UTC", utc(2025, 6, 4, 8)) == utc(2025, 6, 11, 8)
    assert next_slot_at([], "UTC", utc(2025, 6, 4)) is None


def test_naive_bounds_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        slots([Rule(type="daily_quota", daily_quota=1)], "UTC", datetime(2025, 1, 1), utc(2025, 1, 2))


# --- jitter -----------------------------------------------------------------------------------------------------


def test_jitter_stays_within_its_bounds_and_reaches_both_ends() -> None:
    rng = random.Random(7)
    values = [jitter(10, 13, rng) for _ in range(2000)]

    assert min(values) == 10
    assert max(values) == 13
    assert jitter(5, 5, rng) == 5


def test_jitter_refuses_inverted_or_negative_bounds() -> None:
    with pytest.raises(ValueError, match="min_s"):
        jitter(10, 5)
    with pytest.raises(ValueError, match="min_s"):
        jitter(-1, 5)
