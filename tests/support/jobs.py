"""Drive the worker the way Lambda's SQS event source does: receive from the (moto) jobs queue, call
functions/worker with the batch, delete what it did not report as failed."""

from __future__ import annotations

from typing import Any

from local.events import sqs_event
from local.lambda_context import LambdaContext
from shared import aws
from shared.config import get_settings


def queued_messages() -> int:
    attrs = aws.client("sqs").get_queue_attributes(
        QueueUrl=get_settings().jobs_queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"])


def deliver_once(max_messages: int = 10, timeout_s: float = 300) -> dict[str, Any] | None:
    """One batch of wake-ups to the worker function; None when the queue had nothing visible."""
    from functions.worker.handler import handler

    sqs = aws.client("sqs")
    url = get_settings().jobs_queue_url
    messages = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=max_messages, WaitTimeSeconds=0, AttributeNames=["All"]
    ).get("Messages", [])
    if not messages:
        return None
    response = handler(sqs_event(messages, url), LambdaContext("conveyor-test-worker", timeout_s=timeout_s))
    failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
    for message in messages:
        if message["MessageId"] not in failed:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return response


def drain(max_batches: int = 100) -> int:
    """Deliver batches until the queue shows nothing visible; returns how many batches went to the worker."""
    batches = 0
    while batches < max_batches and deliver_once() is not None:
        batches += 1
    return batches
