"""Automations: the /v1/automations API, the `automations.due` scheduler step and the preview, on a real Postgres."""

from __future__ import annotations

import random
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update

from shared.automations import runner, service
from shared.db import session
from shared.db.models import Automation, AutomationExecutionLog, Item, ItemFile, MediaFile, User


def rule(**overrides: Any) -> dict[str, Any]:
    return {"type": "fixed_interval", "interval_minutes": 60, "items_per_interval": 1, **overrides}


def body(**overrides: Any) -> dict[str, Any]:
    return {"name": "daily", "enabled": True, "jitter_min_seconds": 0, "jitter_max_seconds": 0, "rules": [rule()]} | (
        overrides
    )


def set_zone(user_id: uuid.UUID, zone: str) -> None:
    with session() as s:
        s.execute(update(User).where(User.id == user_id).values(timezone=zone))


def make_drafts(user_id: uuid.UUID, n: int, **fields: Any) -> list[uuid.UUID]:
    """n drafts created one second apart (oldest first), so FIFO/LIFO order is unambiguous."""
    base = datetime.now(UTC) - timedelta(days=1)
    with session() as s:
        items = [
            Item(user_id=user_id, title=f"draft {i}", created_at=base + timedelta(seconds=i), **fields)
            for i in range(n)
        ]
        s.add_all(items)
        s.flush()
        for item in items:  # automations only take drafts that have something to publish
            media = MediaFile(
                user_id=user_id, bucket="b", key=f"media/{item.id}/f.png", region="us-east-1", status="ready"
            )
            s.add(media)
            s.flush()
            s.add(ItemFile(item_id=item.id, media_id=media.id))
        return [i.id for i in items]


def test_drafts_without_files_are_left_alone(alice) -> None:  # type: ignore[no-untyped-def]
    with session() as s:
        # The oldest draft, so FIFO would take it first if files were not required.
        bare = Item(user_id=alice.id, title="nothing to publish", created_at=datetime.now(UTC) - timedelta(days=2))
        s.add(bare)
        s.flush()
        bare_id = bare.id
    [with_file] = make_drafts(alice.id, 1)
    aid = alice.client.post("/v1/automations", json_body=body()).json["id"]
    make_due(aid, hour_ago())

    runner.run_due_automations(now=hour_ago())

    with session() as s:
        assert s.get(Item, bare_id).status == "draft"
        assert s.get(Item, with_file).status == "scheduled"


def make_due(automation_id: str | uuid.UUID, at: datetime) -> None:
    with session() as s:
        s.execute(update(Automation).where(Automation.id == uuid.UUID(str(automation_id))).values(next_run_at=at))


def load(automation_id: str | uuid.UUID) -> Automation:
    with session() as s:
        found = s.get(Automation, uuid.UUID(str(automation_id)))
        assert found is not None
        return found


def items_of(user_id: uuid.UUID) -> dict[uuid.UUID, Item]:
    with session() as s:
        return {i.id: i for i in s.scalars(select(Item).where(Item.user_id == user_id))}


def scheduled(user_id: uuid.UUID) -> list[Item]:
    return sorted((i for i in items_of(user_id).values() if i.status == "scheduled"), key=lambda i: i.title)


def logs_of(automation_id: str | uuid.UUID) -> list[AutomationExecutionLog]:
    with session() as s:
        return list(
            s.scalars(
                select(AutomationExecutionLog)
                .where(AutomationExecutionLog.automation_id == uuid.UUID(str(automation_id)))
                .order_by(AutomationExecutionLog.executed_at)
            )
        )


def hour_ago() -> datetime:
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


# --- API --------------------------------------------------------------------------------------------------------


def test_create_returns_the_automation_with_its_rules_defaults_and_next_run(alice) -> None:  # type: ignore[no-untyped-def]
    # Given a user in Madrid
    set_zone(alice.id, "Europe/Madrid")

    # When she creates an automation posting at 14:00 on weekdays, with default tags
    response = alice.client.post(
        "/v1/automations",
        json_body=body(
            name="Exclusive posts",
            color="#112233",
            draft_selection_method="lifo",
            rules=[{"type": "fixed_time", "time_of_day": "14:00", "days_of_week": ["monday", "friday"]}],
            default_values=[{"field_name": "tags", "value": ["art"], "apply_if_empty": True}],
        ),
    )

    # Then it is stored and its next run is a coming Monday or Friday at 14:00 Madrid time
    assert response.status == 201, response.json
    data = response.json
    assert data["rules"][0]["time_of_day"] == "14:00"
    assert data["default_values"] == [{"field_name": "tags", "value": ["art"], "apply_if_empty": True}]
    next_run = datetime.fromisoformat(data["next_run_at"])
    local = next_run.astimezone(ZoneInfo("Europe/Madrid"))
    assert next_run > datetime.now(UTC)
    assert (local.strftime("%A"), local.hour, local.minute) in {("Monday", 14, 0), ("Friday", 14, 0)}
    assert alice.client.get("/v1/automations").json["items"][0]["id"] == data["id"]


def test_bad_input_is_refused_with_a_clear_error_and_nothing_is_written(alice) -> None:  # type: ignore[no-untyped-def]
    bad_bodies = [
        body(rules=[{"type": "fixed_time", "time_of_day": "25:00"}]),
        body(rules=[{"type": "fixed_time", "time_of_day": "10:00", "days_of_week": ["funday"]}]),
        body(rules=[{"type": "fixed_time"}]),
        body(rules=[rule(interval_minutes=0)]),
        body(rules=[{"type": "daily_quota", "daily_quota": 3, "interval_minutes": 5}]),
        body(jitter_min_seconds=10, jitter_max_seconds=5),
        body(default_values=[{"field_name": "password", "value": "x"}]),
        body(default_values=[{"field_name": "is_mature", "value": "yes"}]),
        body(draft_selection_method="oldest"),
        body(auto_add_to_sale_queue=True),
    ]
    for bad in bad_bodies:
        response = alice.client.post("/v1/automations", json_body=bad)
        assert response.status == 422, (bad, response.json)
        assert response.error_code
    assert alice.client.get("/v1/automations").json["items"] == []


def test_another_users_automation_is_not_found(alice, bob) -> None:  # type: ignore[no-untyped-def]
    aid = alice.client.post("/v1/automations", json_body=body()).json["id"]
    for method, path in [
        ("GET", f"/v1/automations/{aid}"),
        ("PATCH", f"/v1/automations/{aid}"),
        ("DELETE", f"/v1/automations/{aid}"),
        ("POST", f"/v1/automations/{aid}/enable"),
        ("GET", f"/v1/automations/{aid}/logs"),
        ("GET", f"/v1/automations/{aid}/preview"),
    ]:
        kwargs = {"json_body": {"name": "mine"}} if method == "PATCH" else {}
        assert bob.client.request(method, path, **kwargs).status == 404, (method, path)
    assert load(aid).name == "daily"


def test_disable_clears_next_run_and_enable_restarts_from_now(alice) -> None:  # type: ignore[no-untyped-def]
    aid = alice.client.post("/v1/automations", json_body=body()).json["id"]

    off = alice.client.post(f"/v1/automations/{aid}/disable").json
    assert (off["enabled"], off["next_run_at"]) == (False, None)

    on = alice.client.post(f"/v1/automations/{aid}/enable").json
    assert on["enabled"] is True
    assert datetime.fromisoformat(on["next_run_at"]) > datetime.now(UTC)

    # A PATCH replacing the rules recomputes next_run_at; a rename does not
    patched = alice.client.patch(f"/v1/automations/{aid}", json_body={"rules": [rule(interval_minutes=30)]}).json
    assert datetime.fromisoformat(patched["next_run_at"]).minute in {0, 30}
    make_due(aid, hour_ago())
    renamed = alice.client.patch(f"/v1/automations/{aid}", json_body={"name": "renamed"}).json
    assert datetime.fromisoformat(renamed["next_run_at"]) == hour_ago()
    assert alice.client.delete(f"/v1/automations/{aid}").status == 204


def test_preview_lists_the_slots_without_changing_anything(alice) -> None:  # type: ignore[no-untyped-def]
    set_zone(alice.id, "America/New_York")
    aid = alice.client.post(
        "/v1/automations",
        json_body=body(
            rules=[{"type": "daily_quota", "daily_quota": 3}, rule(interval_minutes=720, items_per_interval=2)]
        ),
    ).json["id"]
    before = load(aid)

    response = alice.client.get(f"/v1/automations/{aid}/preview", query={"days": "2"})

    assert response.status == 200, response.json
    data = response.json
    assert data["timezone"] == "America/New_York"
    # The quota beside the interval caps each local day at 3: 00:00 takes 2, 12:00 is trimmed to 1
    assert len(data["slots"]) in {3, 4, 5}  # 2 slots a day over 48 hours (a DST change may shift one)
    assert {(s["at_local"][11:16], s["count"], s["capped"]) for s in data["slots"]} <= {
        ("00:00", 2, 0),
        ("12:00", 1, 1),
    }
    assert data["total_items"] == sum(s["count"] for s in data["slots"])
    assert all(d["daily_cap"] == 3 and d["total_items"] <= 3 for d in data["days"])
    assert all(s["at_local"].endswith(("-04:00", "-05:00")) for s in data["slots"])
    after = load(aid)
    assert (after.next_run_at, after.version, after.updated_at) == (
        before.next_run_at,
        before.version,
        before.updated_at,
    )
    assert logs_of(aid) == []
    assert alice.client.get(f"/v1/automations/{aid}/preview", query={"days": "32"}).status == 422


# --- the scheduler step -----------------------------------------------------------------------------------------


def test_fifo_lifo_and_random_select_the_right_drafts(make_user) -> None:  # type: ignore[no-untyped-def]
    picked: dict[str, list[str]] = {}
    for method in ("fifo", "lifo", "random"):
        # Given a user with 6 drafts and an automation taking 2 per slot
        user = make_user()
        make_drafts(user.id, 6)
        aid = user.client.post(
            "/v1/automations", json_body=body(draft_selection_method=method, rules=[rule(items_per_interval=2)])
        ).json["id"]
        make_due(aid, hour_ago())

        # When the step runs
        assert runner.run_due_automations(now=hour_ago() + timedelta(seconds=30)) == 2
        picked[method] = [i.title for i in scheduled(user.id)]

    # Then FIFO took the two oldest, LIFO the two newest, random two distinct drafts
    assert picked["fifo"] == ["draft 0", "draft 1"]
    assert picked["lifo"] == ["draft 4", "draft 5"]
    assert len(set(picked["random"])) == 2


def test_random_selection_varies(make_user) -> None:  # type: ignore[no-untyped-def]
    user = make_user()
    make_drafts(user.id, 30)
    aid = user.client.post(
        "/v1/automations", json_body=body(draft_selection_method="random", rules=[rule(items_per_interval=5)])
    ).json["id"]
    make_due(aid, hour_ago())
    runner.run_due_automations(now=hour_ago())
    titles = {i.title for i in scheduled(user.id)}
    assert len(titles) == 5
    # Neither the five oldest nor the five newest (each 1 in 142,506 by chance)
    assert titles != {f"draft {i}" for i in range(5)}
    assert titles != {f"draft {i}" for i in range(25, 30)}


def test_scheduled_items_get_slot_jitter_and_defaults(alice) -> None:  # type: ignore[no-untyped-def]
    # Given drafts, one with a description and tags of its own, and defaults with and without apply_if_empty
    own = make_drafts(alice.id, 1, description="mine", tags=["own"], category_path="a/b")[0]
    bare = make_drafts(alice.id, 1)[0]
    make_drafts(alice.id, 2)
    aid = alice.client.post(
        "/v1/automations",
        json_body=body(
            jitter_min_seconds=30,
            jitter_max_seconds=90,
            remote_draft_only_by_default=True,
            rules=[rule(items_per_interval=4)],
            default_values=[
                {"field_name": "description", "value": "Default text", "apply_if_empty": True},
                {"field_name": "tags", "value": ["auto"], "apply_if_empty": True},
                {"field_name": "category_path", "value": "x/y", "apply_if_empty": False},
                {"field_name": "is_mature", "value": True, "apply_if_empty": False},
                {"field_name": "mature_level", "value": "moderate", "apply_if_empty": True},
            ],
        ),
    ).json["id"]
    slot = hour_ago()
    make_due(aid, slot)

    # When the step runs
    assert runner.run_due_automations(now=slot + timedelta(seconds=20), rng=random.Random(1)) == 4

    # Then apply_if_empty kept the draft's own values and filled the empty ones; the others overwrote
    items = items_of(alice.id)
    assert (items[own].description, items[own].tags) == ("mine", ["own"])
    assert (items[bare].description, items[bare].tags) == ("Default text", ["auto"])
    assert items[own].category_path == items[bare].category_path == "x/y"
    for item in items.values():
        assert item.status == "scheduled"
        assert item.automation_id == uuid.UUID(aid)
        assert (item.is_mature, item.mature_level, item.remote_draft_only) == (True, "moderate", True)
        assert item.scheduled_at == slot
        assert 30 <= item.jitter_seconds <= 90
        assert item.actual_publish_at == slot + timedelta(seconds=item.jitter_seconds)


def test_the_run_is_logged_and_the_next_run_moves_on(alice) -> None:  # type: ignore[no-untyped-def]
    make_drafts(alice.id, 1)
    aid = alice.client.post("/v1/automations", json_body=body(rules=[rule(items_per_interval=3)])).json["id"]
    slot = hour_ago()
    make_due(aid, slot)

    runner.run_due_automations(now=slot + timedelta(seconds=5))

    [log] = alice.client.get(f"/v1/automations/{aid}/logs").json["items"]
    assert (log["scheduled_count"], log["triggered_by_rule_type"], log["late"]) == (1, "fixed_interval", False)
    assert datetime.fromisoformat(log["slot_at"]) == slot
    assert log["details"]["short_by"] == 2
    assert load(aid).next_run_at == slot + timedelta(hours=1)


def test_two_overlapping_ticks_never_schedule_an_item_twice(make_user) -> None:  # type: ignore[no-untyped-def]
    # Given 12 due automations over 3 users (4 each, competing for the same 10 drafts per user)
    slot = hour_ago()
    users = [make_user() for _ in range(3)]
    ids = []
    for user in users:
        make_drafts(user.id, 10)
        for _ in range(4):
            aid = user.client.post(
                "/v1/automations", json_body=body(draft_selection_method="random", rules=[rule(items_per_interval=2)])
            ).json["id"]
            make_due(aid, slot)
            ids.append(aid)

    # When two ticks run at the same moment, each on its own connection
    start = threading.Barrier(2)
    counts: list[int] = []
    errors: list[BaseException] = []

    def tick() -> None:
        try:
            start.wait()
            counts.append(runner.run_due_automations(now=slot + timedelta(seconds=10), limit=5))
            counts.append(runner.run_due_automations(now=slot + timedelta(seconds=10), limit=5))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=tick) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    # Then every automation ran once for the slot, and each draft was taken by one automation only
    assert errors == []
    assert sum(counts) == 24
    for aid in ids:
        assert [(x.slot_at, x.scheduled_count) for x in logs_of(aid)] == [(slot, 2)]
    for user in users:
        taken = scheduled(user.id)
        assert len(taken) == 8
        assert len({i.id for i in taken}) == 8
    with session() as s:
        by_automation = s.execute(select(Item.automation_id, func.count()).group_by(Item.automation_id)).all()
    assert sorted(n for a, n in by_automation if a is not None) == [2] * 12


def test_a_slot_missed_during_an_outage_is_handled_once(alice) -> None:  # type: ignore[no-untyped-def]
    # Given an hourly automation whose slot was two hours ago (three slots passed: -2h, -1h, now)
    make_drafts(alice.id, 10)
    aid = alice.client.post("/v1/automations", json_body=body()).json["id"]
    now = hour_ago() + timedelta(minutes=10)
    make_due(aid, hour_ago() - timedelta(hours=2))

    # When the scheduler comes back and ticks every minute for five minutes
    counts = [runner.run_due_automations(now=now + timedelta(minutes=m)) for m in range(5)]

    # Then one catch-up ran, for the latest slot, logged late with the skipped slots; next run is in the future
    assert counts == [1, 0, 0, 0, 0]
    [log] = logs_of(aid)
    assert log.late is True
    assert log.slot_at == hour_ago()
    assert log.details["missed_slots"] == 2
    assert load(aid).next_run_at == hour_ago() + timedelta(hours=1)
    assert len(scheduled(alice.id)) == 1


def test_only_due_automations_are_touched(alice) -> None:  # type: ignore[no-untyped-def]
    make_drafts(alice.id, 5)
    due = alice.client.post("/v1/automations", json_body=body()).json["id"]
    later = alice.client.post("/v1/automations", json_body=body()).json["id"]
    disabled = alice.client.post("/v1/automations", json_body=body(enabled=False)).json["id"]
    make_due(due, hour_ago())
    make_due(disabled, hour_ago())  # disabled rows are not on the due index, whatever next_run_at says

    runner.run_due_automations(now=hour_ago() + timedelta(seconds=1))

    assert [len(logs_of(x)) for x in (due, later, disabled)] == [1, 0, 0]


def test_preview_equals_what_the_runner_schedules(alice) -> None:  # type: ignore[no-untyped-def]
    # Given a New York user with a fixed time and an interval capped by a quota, across the November change
    set_zone(alice.id, "America/New_York")
    make_drafts(alice.id, 40)
    aid = alice.client.post(
        "/v1/automations",
        json_body=body(
            rules=[
                {"type": "daily_quota", "daily_quota": 5},
                {"type": "fixed_time", "time_of_day": "01:30", "items_per_interval": 2},
                rule(interval_minutes=480, items_per_interval=2),
            ]
        ),
    ).json["id"]
    start = datetime(2025, 11, 1, 12, tzinfo=UTC)
    planned = service.preview(alice.id, uuid.UUID(aid), days=3, now=start)
    expected = planned.slots
    assert planned.cut  # the cap bites: 16:00 is cut every day, 08:00 trimmed
    assert {d.items for d in planned.days[1:-1]} == {5}
    make_due(aid, expected[0].at_utc)

    # When the scheduler ticks at every slot the preview listed
    for slot in expected:
        runner.run_due_automations(now=slot.at_utc)

    # Then the runner handled exactly those slots with those counts, none late
    logs = logs_of(aid)
    assert [(x.slot_at, x.scheduled_count, x.late) for x in logs] == [(x.at_utc, x.count, False) for x in expected]
    times = sorted(i.scheduled_at for i in scheduled(alice.id))
    assert times == sorted(x.at_utc for x in expected for _ in range(x.count))


def test_moving_time_zone_moves_the_next_run_to_the_new_wall_clock(alice) -> None:  # type: ignore[no-untyped-def]
    set_zone(alice.id, "Europe/Madrid")
    aid = alice.client.post(
        "/v1/automations", json_body=body(rules=[{"type": "fixed_time", "time_of_day": "14:00"}])
    ).json["id"]
    before = load(aid).next_run_at
    assert before.astimezone(ZoneInfo("Europe/Madrid")).strftime("%H:%M") == "14:00"

    assert alice.client.patch("/v1/me", json_body={"timezone": "America/New_York"}).status == 200

    after = load(aid).next_run_at
    assert after.astimezone(ZoneInfo("America/New_York")).strftime("%H:%M") == "14:00"
    assert after != before


# --- the daily cap and the preview window (issue 12, items 9 and 12) -------------------------------------------


def test_a_daily_quota_beside_an_interval_caps_what_the_scheduler_schedules(alice) -> None:  # type: ignore[no-untyped-def]
    # Given "2 every 4 hours, max 10 per day" for a Madrid user with plenty of drafts
    set_zone(alice.id, "Europe/Madrid")
    make_drafts(alice.id, 30)
    aid = alice.client.post(
        "/v1/automations",
        json_body=body(
            rules=[rule(interval_minutes=240, items_per_interval=2), {"type": "daily_quota", "daily_quota": 10}]
        ),
    ).json["id"]
    madrid = ZoneInfo("Europe/Madrid")
    day_start = datetime(2030, 6, 10, tzinfo=madrid).astimezone(UTC)

    # When she previews that local day over the API
    response = alice.client.get(
        f"/v1/automations/{aid}/preview",
        query={"from": day_start.isoformat(), "until": (day_start + timedelta(days=1)).isoformat()},
    )

    # Then it shows 10 items, not 22, and the 20:00 slot cut by the cap
    assert response.status == 200, response.json
    data = response.json
    assert data["total_items"] == 10
    assert [s["at_local"][11:16] for s in data["slots"]] == ["00:00", "04:00", "08:00", "12:00", "16:00"]
    assert [(s["at_local"][11:16], s["count"], s["capped"]) for s in data["cut_slots"]] == [("20:00", 0, 2)]
    assert data["days"] == [{"date": "2030-06-10", "total_items": 10, "daily_cap": 10, "capped_items": 2}]
    assert data["capped_items"] == 2

    # And the scheduler, ticking at each of the day's slots, schedules the same 10 and skips 20:00
    make_due(aid, day_start)
    for hour in (0, 4, 8, 12, 16, 20):
        runner.run_due_automations(now=day_start + timedelta(hours=hour))
    assert [(x.slot_at.astimezone(madrid).hour, x.scheduled_count) for x in logs_of(aid)] == [
        (0, 2),
        (4, 2),
        (8, 2),
        (12, 2),
        (16, 2),
    ]
    assert len(scheduled(alice.id)) == 10
    assert load(aid).next_run_at == day_start + timedelta(days=1)


def test_preview_across_a_dst_change_months_ahead_gives_the_wall_clock_slots(alice) -> None:  # type: ignore[no-untyped-def]
    # Given a New York user posting at 09:00 and 02:30 daily (02:30 does not exist on 2030-03-10)
    set_zone(alice.id, "America/New_York")
    aid = alice.client.post(
        "/v1/automations",
        json_body=body(
            rules=[{"type": "fixed_time", "time_of_day": "09:00"}, {"type": "fixed_time", "time_of_day": "02:30"}]
        ),
    ).json["id"]

    # When she previews the days around the March change, years ahead, with offsets in the query
    response = alice.client.get(
        f"/v1/automations/{aid}/preview",
        query={"from": "2030-03-09T00:00:00-05:00", "until": "2030-03-12T00:00:00-04:00"},
    )

    # Then 09:00 stays 09:00 on the wall clock (14:00 UTC before, 13:00 UTC after) and 02:30 moves to 03:00 EDT
    assert response.status == 200, response.json
    data = response.json
    assert data["start"].startswith("2030-03-09T05:00:00")
    assert data["end"].startswith("2030-03-12T04:00:00")
    assert [s["at_local"] for s in data["slots"]] == [
        "2030-03-09T02:30:00-05:00",
        "2030-03-09T09:00:00-05:00",
        "2030-03-10T03:00:00-04:00",
        "2030-03-10T09:00:00-04:00",
        "2030-03-11T02:30:00-04:00",
        "2030-03-11T09:00:00-04:00",
    ]
    assert [s["at"][11:16] for s in data["slots"]][1:4] == ["14:00", "07:00", "13:00"]
    assert [d["date"] for d in data["days"]] == ["2030-03-09", "2030-03-10", "2030-03-11"]


def test_preview_windows_are_bounded(alice) -> None:  # type: ignore[no-untyped-def]
    aid = alice.client.post("/v1/automations", json_body=body(rules=[rule(interval_minutes=1)])).json["id"]
    url = f"/v1/automations/{aid}/preview"
    start = datetime.now(UTC) + timedelta(days=100)

    def status(**query: str) -> tuple[int, str | None]:
        response = alice.client.get(url, query=query)
        return response.status, (response.json.get("error") or {}).get("code") if response.status != 200 else None

    assert status(**{"from": start.isoformat(), "until": (start + timedelta(days=1)).isoformat()}) == (200, None)
    # Every minute for 11 days is more slots than one preview lists
    assert (
        status(**{"from": start.isoformat(), "until": (start + timedelta(days=11)).isoformat()})[1]
        == "preview_too_large"
    )
    # Naive, inverted, too long, too far and mixed forms are refused
    assert status(**{"from": "2030-03-09T00:00:00"})[0] == 422
    assert status(**{"from": "1700000000"})[0] == 422
    assert status(**{"from": start.isoformat(), "until": start.isoformat()}) == (422, "invalid_window")
    assert status(**{"from": start.isoformat(), "until": (start + timedelta(days=93)).isoformat()}) == (
        422,
        "invalid_window",
    )
    assert status(**{"from": "9999-12-31T00:00:00+00:00"}) == (422, "invalid_window")
    assert status(until=(start + timedelta(days=1)).isoformat(), days="2") == (422, "invalid_window")
    # The days form still works from now
    assert status(days="1") == (200, None)


def test_preview_from_parameter_is_named_from_in_the_openapi(alice) -> None:  # type: ignore[no-untyped-def]
    spec = alice.client.get("/v1/openapi.json").json
    params = spec["paths"]["/v1/automations/{automation_id}/preview"]["get"]["parameters"]
    assert {p["name"] for p in params if p["in"] == "query"} == {"from", "until", "days"}
