"""S3 `ObjectCreated` notifications, delivered through the media queue (SQS batch, partial failures).

Thin on purpose: each record's body goes to the ingestion service; whatever it raises (an unreadable message,
S3 or database trouble, a file another invocation is still scanning) marks that record failed so SQS redelivers it,
and after MAX_RECEIVES_BEFORE_DLQ deliveries it lands in the dead-letter queue.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.media.composition import compose
from shared.media import ingest

logger = Logger(service="media")
compose()
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def record_handler(record: SQSRecord) -> None:
    receive_count = int(record.attributes.approximate_receive_count or 1)
    ingest.handle_notification(record.body, receive_count=receive_count)


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
