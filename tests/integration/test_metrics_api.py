"""`POST /v1/metrics` and `GET /v1/metrics/raw`: measurements recorded over the API with the seed's exact
`Decimal(10, 2)` values, listed per user with filters and a keyset cursor, and aggregated by `GET /v1/metrics`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from shared.db import session
from shared.db.models import Metric
from shared.metrics.service import record

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def metric_rows() -> int:
    with session() as s:
        return int(s.scalar(select(func.count()).select_from(Metric)) or 0)


def test_a_measurement_is_recorded_exactly_and_returned_as_a_string(alice) -> None:  # type: ignore[no-untyped-def]
    # Given a measurement with a JSON number that binary floats cannot hold exactly, and one as a string
    body = {
        "name": "render.seconds",
        "value": 0.1,
        "reference": "job-7",
        "label": "hd",
        "start": "2024-05-01T12:00:00+02:00",
    }
    as_number = alice.client.post("/v1/metrics", json_body=body)
    as_text = alice.client.post("/v1/metrics", json_body={"name": "render.seconds", "value": "99999999.99"})

    # Then each is created and answered as an exact decimal string
    assert as_number.status == 201, as_number.json
    assert as_number.json["value"] == "0.10"
    assert (as_number.json["reference"], as_number.json["label"]) == ("job-7", "hd")
    assert datetime.fromisoformat(as_number.json["start"]) == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    assert as_text.status == 201, as_text.json
    assert (as_text.json["value"], as_text.json["reference"], as_text.json["start"]) == ("99999999.99", "", None)
    # And the database holds the exact values, for alice
    with session() as s:
        stored = {m.reference: (m.value, m.user_id) for m in s.scalars(select(Metric))}
    assert stored == {"job-7": (Decimal("0.1"), alice.id), "": (Decimal("99999999.99"), alice.id)}
    # And the aggregate endpoint sees them
    sums = alice.client.get("/v1/metrics", query={"name": "render.seconds"}).json["items"]
    assert sum(i["count"] for i in sums) == 2


@pytest.mark.parametrize(
    "value",
    ["1.234", 1.234, 100_000_000, "-100000000", "1e9", "NaN", "Infinity", True, None, [], {}, "twelve", ""],
)
def test_values_beyond_decimal_10_2_are_422_and_store_nothing(alice, value: Any) -> None:  # type: ignore[no-untyped-def]
    response = alice.client.post("/v1/metrics", json_body={"name": "n", "value": value})
    assert (response.status, response.json["error"]["code"]) == (422, "validation_failed"), response.json
    assert metric_rows() == 0


@pytest.mark.parametrize(
    "body",
    [
        {"value": 1},
        {"name": "", "value": 1},
        {"name": "n" * 201, "value": 1},
        {"name": "n", "value": 1, "reference": "r" * 201},
        {"name": "n", "value": 1, "label": "l" * 201},
        {"name": "n", "value": 1, "start": "2024-05-01T12:00:00"},  # no time zone
        {"name": "n", "value": 1, "start": 1714557600},  # a number is not a documented time
        {"name": "n", "value": 1, "user_id": "00000000-0000-4000-8000-000000000000"},
    ],
)
def test_bad_measurements_are_422_and_store_nothing(alice, body: dict[str, Any]) -> None:  # type: ignore[no-untyped-def]
    response = alice.client.post("/v1/metrics", json_body=body)
    assert (response.status, response.json["error"]["code"]) == (422, "validation_failed"), response.json
    assert metric_rows() == 0


def test_values_at_the_edges_of_decimal_10_2_are_kept(alice) -> None:  # type: ignore[no-untyped-def]
    for value, shown in (("-99999999.99", "-99999999.99"), (12, "12.00"), ("1.50", "1.50"), ("0.00", "0.00")):
        response = alice.client.post("/v1/metrics", json_body={"name": "edge", "value": value})
        assert (response.status, response.json["value"]) == (201, shown)


def test_raw_measurements_are_the_callers_newest_first_filtered_and_paged(alice, bob) -> None:  # type: ignore[no-untyped-def]
    # Given alice's measurements over five minutes, two names and labels, and one of bob's
    for minute in range(5):
        record(
            "uploads", minute, user_id=alice.id, label="de" if minute % 2 else "fr", at=T0 + timedelta(minutes=minute)
        )
    record("other", 1, user_id=alice.id, reference="job-1", at=T0)
    record("uploads", 9, user_id=bob.id, at=T0)
    record("uploads", 9, user_id=None, at=T0)  # system-wide: nobody's

    # When alice pages through her uploads two at a time
    values: list[str] = []
    query: dict[str, str] = {"name": "uploads", "limit": "2"}
    while True:
        page = alice.client.get("/v1/metrics/raw", query=query)
        assert page.status == 200, page.json
        values += [i["value"] for i in page.json["items"]]
        if page.json["next_cursor"] is None:
            break
        query["cursor"] = page.json["next_cursor"]

    # Then she sees her own, newest first, each once
    assert values == ["4.00", "3.00", "2.00", "1.00", "0.00"]
    # And the filters narrow them: label, reference, and a [since, until) window
    by_label = alice.client.get("/v1/metrics/raw", query={"label": "de"}).json["items"]
    assert [i["value"] for i in by_label] == ["3.00", "1.00"]
    by_reference = alice.client.get("/v1/metrics/raw", query={"reference": "job-1"}).json["items"]
    assert [i["name"] for i in by_reference] == ["other"]
    window = {"name": "uploads", "since": "2024-05-01T12:01:00+02:00", "until": "2024-05-01T10:03:00Z"}
    assert [i["value"] for i in alice.client.get("/v1/metrics/raw", query=window).json["items"]] == ["2.00", "1.00"]
    # And bob sees only his one
    assert [i["value"] for i in bob.client.get("/v1/metrics/raw").json["items"]] == ["9.00"]


@pytest.mark.parametrize(
    "query",
    [
        {"since": "2024-05-01T10:00:00"},  # no time zone
        {"until": "yesterday"},
        {"since": "2024-05-02T00:00:00Z", "until": "2024-05-01T00:00:00Z"},
        {"limit": "0"},
        {"limit": "101"},
        {"cursor": "garbage"},
        {"name": "n" * 201},
    ],
)
def test_bad_raw_queries_are_422(alice, query: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    response = alice.client.get("/v1/metrics/raw", query=query)
    assert response.status == 422, response.json
    assert response.json["error"]["code"] in {"validation_failed", "invalid_input"}


def test_a_cursor_of_another_user_shows_nothing_of_theirs(alice, bob) -> None:  # type: ignore[no-untyped-def]
    for minute in range(3):
        record("uploads", minute, user_id=alice.id, at=T0 + timedelta(minutes=minute))
    cursor = alice.client.get("/v1/metrics/raw", query={"limit": "1"}).json["next_cursor"]
    assert cursor
    assert bob.client.get("/v1/metrics/raw", query={"cursor": cursor}).json["items"] == []
