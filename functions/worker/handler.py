"""Job wake-ups from the jobs queue (SQS batch, partial failures). Postgres holds the job; SQS only wakes us."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.jobs.messages import JobWakeup

logger = Logger(service="worker")
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def record_handler(record: SQSRecord) -> None:
    wakeup = JobWakeup.model_validate_json(record.body)
    receives = record.attributes.approximate_receive_count
    logger.info("job wake-up received", job_id=str(wakeup.job_id), receive_count=receives)


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
