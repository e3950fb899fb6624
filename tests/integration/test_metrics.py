"""Metrics: recording, aggregation by name/label/UTC bucket per user, GET /v1/metrics, and the EMF output that
CloudWatch turns into job metrics."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.errors import InvalidInput
from shared.metrics import emf
from shared.metrics.service import aggregate, record

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def emf_lines(out: str) -> list[dict[str, Any]]:
    """The EMF documents Powertools printed (metric values are lists: one entry per add_metric call)."""
    return [json.loads(line) for line in out.splitlines() if line.startswith("{") and '"_aws"' in line]


# ------------------------------------------------------------------------------------------------ aggregation


def test_measurements_are_aggregated_per_name_label_and_bucket(alice) -> None:  # type: ignore[no-untyped-def]
    # Given alice's measurements in two hours, two labels and two names
    for minute, value, label in ((1, 10, "de"), (20, 30, "de"), (59, 5, "fr"), (61, 7, "de")):
        record("translate.characters", value, user_id=alice.id, label=label, at=T0 + timedelta(minutes=minute))
    record("job.duration_ms", 250, user_id=alice.id, reference="job-1", at=T0 + timedelta(minutes=2))

    # When aggregated per hour
    rows = aggregate(alice.id, since=T0, until=T0 + timedelta(hours=3), bucket="hour")

    # Then each (name, label, hour) is one row with count, sum, min, max and average, ordered by bucket
    summary = [(r.name, r.label, r.bucket_start, r.count, r.sum, r.min, r.max, r.avg) for r in rows]
    assert summary == [
        ("job.duration_ms", None, T0, 1, 250.0, 250.0, 250.0, 250.0),
        ("translate.characters", "de", T0, 2, 40.0, 10.0, 30.0, 20.0),
        ("translate.characters", "fr", T0, 1, 5.0, 5.0, 5.0, 5.0),
        ("translate.characters", "de", T0 + timedelta(hours=1), 1, 7.0, 7.0, 7.0, 7.0),
    ]
    # And per day, filtered by name and label, the hours fold into one bucket starting at UTC midnight
    daily = aggregate(
        alice.id, since=T0 - timedelta(hours=10), until=T0 + timedelta(hours=3), bucket="day",
        name="translate.characters", label="de",
    )  # fmt: skip
    assert [(r.bucket_start, r.count, r.sum) for r in daily] == [(datetime(2024, 5, 1, tzinfo=UTC), 3, 47.0)]
    # And per minute, the range's end is exclusive
    minutes = aggregate(alice.id, since=T0, until=T0 + timedelta(minutes=20), bucket="minute")
    assert [(r.bucket_start.minute, r.name) for r in minutes] == [(1, "translate.characters"), (2, "job.duration_ms")]


def test_a_user_sees_only_their_own_measurements(alice, bob) -> None:  # type: ignore[no-untyped-def]
    record("uploads", 1, user_id=alice.id, at=T0)
    record("uploads", 1, user_id=None, at=T0)  # a system-wide measurement belongs to nobody's view
    assert aggregate(bob.id, since=T0 - timedelta(hours=1), until=T0 + timedelta(hours=1)) == []
    assert [r.count for r in aggregate(alice.id, since=T0 - timedelta(hours=1), until=T0 + timedelta(hours=1))] == [1]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "", "value": 1}, "name"),
        ({"name": "x", "value": float("nan")}, "out of range"),
        ({"name": "x", "value": 1e17}, "out of range"),
        ({"name": "x", "value": 1, "at": datetime(2024, 1, 1)}, "time zone"),
    ],
)
def test_bad_measurements_are_refused(db, kwargs: dict[str, Any], message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput, match=message):
        record(**kwargs)


# ------------------------------------------------------------------------------------------------------- API


def test_get_metrics_aggregates_the_callers_measurements(alice, bob) -> None:  # type: ignore[no-untyped-def]
    # Given measurements of alice now and a day ago, and one of bob now
    now = datetime.now(UTC)
    record("translate.characters", 100, user_id=alice.id, label="de")
    record("translate.characters", 50, user_id=alice.id, label="de")
    record("translate.characters", 999, user_id=alice.id, label="de", at=now - timedelta(hours=30))
    record("translate.characters", 7, user_id=bob.id, label="de")

    # When alice asks with the defaults (the last 24 hours, hourly)
    response = alice.client.get("/v1/metrics")

    # Then she gets her recent figures only
    assert response.status == 200, response.json
    body = response.json
    assert body["bucket"] == "hour"
    assert [(i["name"], i["label"], i["count"], i["sum"], i["avg"]) for i in body["items"]] == [
        ("translate.characters", "de", 2, 150.0, 75.0)
    ]
    since, until = datetime.fromisoformat(body["since"]), datetime.fromisoformat(body["until"])
    assert until - since == timedelta(hours=24)

    # And with an explicit range and daily buckets she sees the older one too; bob only his own
    query = {"since": (now - timedelta(days=2)).isoformat(), "bucket": "day", "name": "translate.characters"}
    days = alice.client.get("/v1/metrics", query=query).json["items"]
    assert sum(i["count"] for i in days) == 3
    assert [i["sum"] for i in bob.client.get("/v1/metrics", query=query).json["items"]] == [7.0]
    # And a label filter that matches nothing gives an empty list
    assert alice.client.get("/v1/metrics", query={"label": "fr"}).json["items"] == []


@pytest.mark.parametrize(
    "query",
    [
        {"bucket": "week"},
        {"since": "2024-05-01T00:00:00"},  # no time zone
        {"since": "yesterday"},
        {"since": "2024-05-02T00:00:00Z", "until": "2024-05-01T00:00:00Z"},
        {"since": "2024-01-01T00:00:00Z", "until": "2024-03-01T00:00:00Z"},  # more than 31 days
        {"since": "2024-01-01T00:00:00Z", "until": "2024-01-05T00:00:00Z", "bucket": "minute"},  # too many buckets
    ],
)
def test_bad_metric_queries_get_422(alice, query: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    response = alice.client.get("/v1/metrics", query=query)
    assert response.status == 422, response.json
    assert response.error_code in ("validation_failed", "invalid_input")


def test_get_metrics_needs_credentials(api) -> None:  # type: ignore[no-untyped-def]
    assert api.get("/v1/metrics").status == 401


# ------------------------------------------------------------------------------------------------------- EMF


def test_a_worker_batch_is_one_emf_document_with_counts_and_value_arrays(capsys: pytest.CaptureFixture[str]) -> None:
    # When the worker reports a batch of three runs
    emf.job_batch(
        [
            ("translate.text", "completed", 1234.5, 80.0),
            ("email.send", "completed", 2.0, None),
            ("email.send", "retrying", 3.25, 15.0),
        ]
    )

    # Then one EMF document carries the whole batch: counts, and every duration and latency as arrays
    (doc,) = emf_lines(capsys.readouterr().out)
    directive = doc["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "ConveyorTests"
    assert directive["Dimensions"] == [["service"]]
    units = {m["Name"]: m["Unit"] for m in directive["Metrics"]}
    assert units == {
        "JobCount": "Count",
        "Jobs_completed": "Count",
        "Jobs_retrying": "Count",
        "JobDuration": "Milliseconds",
        "QueueLatency": "Milliseconds",
    }
    assert (doc["JobCount"], doc["Jobs_completed"], doc["Jobs_retrying"]) == (3.0, 2.0, 1.0)
    assert (doc["JobDuration"], doc["QueueLatency"]) == ([1234.5, 2.0, 3.25], [80.0, 15.0])
    assert doc["service"] == "conveyor-tests"


def test_the_worker_prints_one_emf_document_per_batch(alice, aws_env, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    from shared.jobs.service import create_job
    from tests.support.jobs import deliver_once

    for _ in range(3):
        create_job(user_id=alice.id, type="email.send", payload={"to": ["a@example.com"], "subject": "s", "text": "t"})
    capsys.readouterr()

    deliver_once()

    documents = [d for d in emf_lines(capsys.readouterr().out) if "JobCount" in d]
    assert len(documents) == 1
    assert documents[0]["JobCount"] == 3.0
    assert len(documents[0]["JobDuration"]) == 3


def test_emitting_never_raises(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    class GoneStdout:
        """What Lambda's stdout looks like when the pipe to CloudWatch Logs broke."""

        def write(self, *args: Any) -> None:
            raise BrokenPipeError("stdout is gone")

        def flush(self) -> None:
            raise BrokenPipeError("stdout is gone")

    monkeypatch.setattr(sys, "stdout", GoneStdout())
    emf.job_batch([("translate.text", "completed", 1.0, None)])
    emf.measurement("x", 1)
    assert emf_lines(capsys.readouterr().out) == []


def test_a_recorded_measurement_can_also_go_to_cloudwatch(alice, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    record("translate.characters", 42, user_id=alice.id, label="de", emit=True)
    (doc,) = emf_lines(capsys.readouterr().out)
    assert (doc["translate.characters"], doc["label"]) == ([42.0], "de")
