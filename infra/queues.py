"""Queues: each work queue with its dead-letter queue; visibility = 6x the consuming function's timeout; how many
batches at once Lambda may take from it (the event source's maximum concurrency)."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from shared.resources import MAX_RECEIVES_BEFORE_DLQ

# AWS advice for SQS event sources: visibility timeout >= 6x the function timeout (retries within a batch).
VISIBILITY_FACTOR = 6
DLQ_RETENTION = Duration.days(14)  # long enough to look at what failed
# Lambda's bounds for an SQS event source's MaximumConcurrency.
MAX_CONCURRENCY_BOUNDS = (2, 1000)
UNRESERVED_MAX_CONCURRENCY = 10  # a consumer without reserved concurrency still must not flood the database


def sqs_max_concurrency(reserved_concurrency: int | None) -> int:
    """The event source's maximum concurrency for a consumer with this reserved concurrency.

    Without the cap the poller scales past the reserved concurrency, Lambda throttles the extra invocations,
    their messages come back after the visibility timeout having spent a receive, and after
    MAX_RECEIVES_BEFORE_DLQ such receives land in the DLQ unprocessed. The consumers are invoked by their queue
    only, so the cap is the reserved concurrency itself (the whole reservation, and never more).
    """
    low, high = MAX_CONCURRENCY_BOUNDS
    if reserved_concurrency is None:
        return UNRESERVED_MAX_CONCURRENCY
    if reserved_concurrency < low:
        raise ValueError(f"an SQS consumer needs reserved concurrency >= {low} (Lambda's minimum maximum concurrency)")
    return min(reserved_concurrency, high)


class QueueWithDlq(Construct):
    """A queue whose messages move to its DLQ after MAX_RECEIVES_BEFORE_DLQ receives (SQS-managed encryption)."""

    def __init__(
        self, scope: Construct, construct_id: str, *, queue_name: str, dlq_name: str, consumer_timeout_s: int
    ) -> None:
        super().__init__(scope, construct_id)
        self.dlq = sqs.Queue(
            self,
            "Dlq",
            queue_name=dlq_name,
            retention_period=DLQ_RETENTION,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            queue_name=queue_name,
            visibility_timeout=Duration.seconds(VISIBILITY_FACTOR * consumer_timeout_s),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.dlq, max_receive_count=MAX_RECEIVES_BEFORE_DLQ),
        )
