"""The SQS- and EventBridge-driven functions accept the events AWS sends and report partial batch failures."""

from __future__ import annotations

import json
import uuid

import pytest

from local.events import s3_object_created_body, scheduled_event, sqs_event, sqs_message
from local.lambda_context import LambdaContext
from shared.media.events import parse_s3_notification
from tests.support.events import load_event


def test_media_handler_accepts_the_s3_event_sqs_delivers() -> None:
    from functions.media.handler import handler

    result = handler(load_event("s3SqsEvent"), LambdaContext("conveyor-test-media"))

    assert result == {"batchItemFailures": []}


def test_s3_keys_are_url_decoded() -> None:
    body = s3_object_created_body("bucket", "media/u/%C3%A9t%C3%A9+photo%2B1.jpg", size=3, etag="abc")

    [obj] = list(parse_s3_notification(body))

    assert obj.key == "media/u/été photo+1.jpg"
    assert (obj.bucket, obj.size, obj.etag) == ("bucket", 3, "abc")


def test_s3_test_events_are_ignored() -> None:
    body = json.dumps(
        {
            "Service": "Amazon S3",
            "Event": "s3:TestEvent",
            "Time": "2026-11-25T10:00:00.000Z",
            "Bucket": "b",
            "RequestId": "X",
            "HostId": "Y",
        }
    )

    assert list(parse_s3_notification(body)) == []


def test_media_handler_reports_only_the_unreadable_record_as_failed() -> None:
    from functions.media.handler import handler

    good = sqs_message(s3_object_created_body("bucket", "media/a.png", size=1, etag="e"))
    bad = sqs_message("not json")
    event = sqs_event([good, bad], "conveyor-test-media")

    result = handler(event, LambdaContext("conveyor-test-media"))

    assert result == {"batchItemFailures": [{"itemIdentifier": bad["MessageId"]}]}


def test_worker_reports_malformed_wakeups_as_failures(db: object) -> None:
    from functions.worker.handler import handler

    good = sqs_message(json.dumps({"job_id": str(uuid.uuid4())}))
    bad = sqs_message(json.dumps({"job": "nope"}))

    result = handler(sqs_event([good, bad], "conveyor-test-jobs"), LambdaContext("conveyor-test-worker"))

    assert result == {"batchItemFailures": [{"itemIdentifier": bad["MessageId"]}]}


def test_worker_accepts_the_sample_sqs_event_shape(db: object) -> None:
    from functions.worker.handler import handler

    event = load_event("sqsEvent")
    event["Records"][0]["body"] = json.dumps({"job_id": str(uuid.uuid4())})

    result = handler(event, LambdaContext("conveyor-test-worker"))

    # The second sample record's body is not a job wake-up: it alone is reported, so SQS redelivers only it.
    assert result == {"batchItemFailures": [{"itemIdentifier": event["Records"][1]["messageId"]}]}


def test_scheduler_runs_its_listed_steps_on_a_scheduled_event(db: object, monkeypatch: pytest.MonkeyPatch) -> None:
    from functions.scheduler import handler as module
    from functions.scheduler.handler import handler

    calls: list[str] = []
    monkeypatch.setattr(module, "STEPS", (*module.STEPS, ("probe", lambda: calls.append("probe") or 1)))
    result = handler(scheduled_event(), LambdaContext("conveyor-test-scheduler", timeout_s=60))

    assert calls == ["probe"]
    assert result["steps"]["probe"] == 1


def test_scheduler_stops_starting_steps_when_out_of_time(db: object, monkeypatch: pytest.MonkeyPatch) -> None:
    from functions.scheduler import handler as module
    from functions.scheduler.handler import handler

    monkeypatch.setattr(module, "STEPS", (*module.STEPS, ("late", lambda: 1)))
    result = handler(scheduled_event(), LambdaContext("conveyor-test-scheduler", timeout_s=1))

    assert result["steps"]["late"] == "skipped: out of time"


def test_a_failing_scheduler_step_does_not_stop_the_others(db: object, monkeypatch: pytest.MonkeyPatch) -> None:
    from functions.scheduler import handler as module
    from functions.scheduler.handler import handler

    def broken() -> int:
        raise RuntimeError("boom")

    monkeypatch.setattr(module, "STEPS", (*module.STEPS, ("broken", broken), ("after", lambda: 2)))
    result = handler(scheduled_event(), LambdaContext("conveyor-test-scheduler", timeout_s=60))

    assert result["steps"]["broken"] == "failed"
    assert result["steps"]["after"] == 2
