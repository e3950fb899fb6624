"""What AWS does between the resources and the functions: SQS event source mappings and the EventBridge rule.

moto accepts EventBridge rules but never fires them, and has no event source mappings, so the laptop stack
polls the queues and ticks the scheduler itself, with the semantics Lambda has in AWS.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from local.events import scheduled_event, sqs_event
from local.runtime import Function

log = logging.getLogger("local.event_sources")


class SqsPoller(threading.Thread):
    """One SQS event source mapping: batches of up to 10, partial batch failures (ReportBatchItemFailures)."""

    def __init__(self, sqs: Any, queue_url: str, function: Function, stop: threading.Event) -> None:
        super().__init__(name=f"poll-{function.name}", daemon=True)
        self.sqs, self.queue_url, self.function, self.stop = sqs, queue_url, function, stop

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.poll_once()
            except Exception:
                log.exception("%s: polling %s failed", self.function.name, self.queue_url)
                self.stop.wait(2)

    def poll_once(self) -> None:
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,  # short, so that stopping is prompt
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return
        try:
            response = self.function.invoke(sqs_event(messages, self.queue_url))
        except Exception:
            # Lambda deletes nothing: every message comes back after the visibility timeout (then the DLQ).
            log.exception(
                "%s: %d record(s), the invocation failed; all will be redelivered", self.function.name, len(messages)
            )
            return
        failed = failed_message_ids(response, [m["MessageId"] for m in messages])
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            chunk = done[start : start + 10]
            result = self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )
            for failure in result.get("Failed", []):
                log.warning("%s: could not delete a message: %s", self.function.name, failure)
        log.info("%s: %d record(s), %d failure(s)", self.function.name, len(messages), len(failed))


def failed_message_ids(response: Any, message_ids: list[str]) -> set[str]:
    """The records to leave on the queue, read as Lambda reads a ReportBatchItemFailures response.

    A malformed response (an empty or unknown itemIdentifier) fails the whole batch, as in AWS.
    """
    if not isinstance(response, dict) or not response.get("batchItemFailures"):
        return set()
    failed = {item.get("itemIdentifier") if isinstance(item, dict) else None for item in response["batchItemFailures"]}
    if not failed <= set(message_ids):
        log.warning("invalid batchItemFailures %s: the whole batch is treated as failed", response["batchItemFailures"])
        return set(message_ids)
    return {str(i) for i in failed}


class SchedulerTicker(threading.Thread):
    """The EventBridge `rate(1 minute)` rule: a Scheduled Event every `interval_s`, the first one soon after start."""

    def __init__(
        self, function: Function, interval_s: float, stop: threading.Event, first_delay_s: float = 1.0
    ) -> None:
        super().__init__(name="scheduler-tick", daemon=True)
        self.function, self.interval_s, self.stop, self.first_delay_s = function, interval_s, stop, first_delay_s

    def run(self) -> None:
        next_at = time.monotonic() + self.first_delay_s
        while not self.stop.wait(max(0.0, next_at - time.monotonic())):
            try:
                result = self.function.invoke(scheduled_event())
                log.info("%s: tick done %.200s", self.function.name, result if result is not None else "")
            except Exception:
                log.exception("%s: tick failed", self.function.name)
            # Fixed rate; ticks missed while a slow one ran are skipped, not bunched up.
            next_at += self.interval_s
            now = time.monotonic()
            if next_at < now:
                next_at = now + self.interval_s - ((now - next_at) % self.interval_s)
