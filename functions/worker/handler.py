"""Job wake-ups from the jobs queue (SQS batch, partial failures). Postgres holds the jobs; SQS only wakes us.

A batch of n wake-ups claims the n best runnable jobs (by priority), whichever jobs the messages were sent for.
Job failures are the jobs' business (retried through Postgres with backoff); only a wake-up we could not act on
(the database was unreachable) is reported back to SQS for redelivery.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import SQSEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from functions.worker.composition import compose
from shared.jobs.messages import JobWakeup
from shared.jobs.worker import process_wakeups

logger = Logger(service="worker")
compose()  # the job types this function runs and their consequences: see composition.py


@event_source(data_class=SQSEvent)
@logger.inject_lambda_context(clear_state=True)
def handler(event: SQSEvent, context: LambdaContext) -> dict[str, Any]:
    valid: list[str] = []
    failures: list[dict[str, str]] = []
    for record in event.records:
        try:
            JobWakeup.model_validate_json(record.body)
        except ValidationError:
            logger.warning("not a job wake-up; left for the dead-letter queue", message_id=record.message_id)
            failures.append({"itemIdentifier": record.message_id})
        else:
            valid.append(record.message_id)
    if valid:
        try:
            process_wakeups(
                len(valid), function_name=context.function_name, remaining_ms=context.get_remaining_time_in_millis
            )
        except Exception:
            logger.exception("could not run jobs; the wake-ups will be redelivered")
            failures.extend({"itemIdentifier": message_id} for message_id in valid)
    return {"batchItemFailures": failures}
