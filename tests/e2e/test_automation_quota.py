"""Issue 12 item 9 through the laptop stack: a daily_quota beside an interval caps the day, over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests

from tests.e2e.harness import RunningStack

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]  # one stack per session, on one worker


def test_two_every_four_hours_with_max_ten_a_day_previews_ten(local_stack: RunningStack) -> None:
    url = f"{local_stack.api_url}/v1/automations"
    headers = {"Authorization": f"Bearer {local_stack.admin_key}", "Content-Type": "application/json"}
    rules = [
        {"type": "fixed_interval", "interval_minutes": 240, "items_per_interval": 2},
        {"type": "daily_quota", "daily_quota": 10},
    ]

    # Given an automation "2 every 4 hours, max 10 per day" (disabled: nothing is taken from the drafts)
    created = requests.post(url, json={"name": "capped", "rules": rules}, headers=headers, timeout=10)
    assert created.status_code == 201, created.text
    aid = created.json()["id"]
    try:
        # When the caller previews one whole local day of their zone, a year ahead
        zone_name = requests.get(f"{url}/{aid}/preview", headers=headers, timeout=10).json()["timezone"]
        zone = ZoneInfo(zone_name)
        day = (datetime.now(UTC) + timedelta(days=365)).astimezone(zone).date()
        start = datetime.combine(day, time(), tzinfo=zone)
        end = datetime.combine(day + timedelta(days=1), time(), tzinfo=zone)
        response = requests.get(
            f"{url}/{aid}/preview",
            params={"from": start.isoformat(), "until": end.isoformat()},
            headers=headers,
            timeout=10,
        )

        # Then the day holds 10 items, not 12 nor 22, and the 20:00 slot is shown as cut by the cap
        assert response.status_code == 200, response.text
        data = response.json()
        assert data["total_items"] == 10
        assert [s["count"] for s in data["slots"]] == [2, 2, 2, 2, 2]
        assert [(s["at_local"][11:16], s["capped"]) for s in data["cut_slots"]] == [("20:00", 2)]
        assert data["days"] == [{"date": day.isoformat(), "total_items": 10, "daily_cap": 10, "capped_items": 2}]

        # And a week in the days form never passes 10 on any local day
        week = requests.get(f"{url}/{aid}/preview", params={"days": "7"}, headers=headers, timeout=10).json()
        assert all(d["total_items"] <= 10 for d in week["days"])
        assert max(d["total_items"] for d in week["days"]) == 10
    finally:
        assert requests.delete(f"{url}/{aid}", headers=headers, timeout=10).status_code == 204
