"""The laptop stack's SQS event source behaves like Lambda's: partial failures stay, then go to the DLQ."""

from __future__ import annotations

import json
import threading
import uuid

from local.event_sources import SqsPoller
from local.runtime import load_functions
from shared import aws
from shared.resources import MAX_RECEIVES_BEFORE_DLQ, ResourceNames


def _count(sqs, url: str) -> int:  # type: ignore[no-untyped-def]
    attrs = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


def test_only_failed_records_are_redelivered_and_reach_the_dlq_after_max_receives(aws_env: dict[str, str]) -> None:
    sqs = aws.client("sqs")
    url = aws_env["CONVEYOR_JOBS_QUEUE_URL"]
    dlq_url = sqs.get_queue_url(QueueName=ResourceNames("test").jobs_dlq)["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "0"})  # redeliver at once
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"job_id": str(uuid.uuid4())}))
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"job_id": str(uuid.uuid4())}))
    sqs.send_message(QueueUrl=url, MessageBody="not a wake-up")
    poller = SqsPoller(sqs, url, load_functions("test").worker, threading.Event())

    poller.poll_once()

    assert _count(sqs, url) == 1  # the two good wake-ups were deleted, the bad one stays for redelivery

    for _ in range(MAX_RECEIVES_BEFORE_DLQ + 1):
        poller.poll_once()

    assert _count(sqs, url) == 0
    [dead] = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10)["Messages"]
    assert dead["Body"] == "not a wake-up"
