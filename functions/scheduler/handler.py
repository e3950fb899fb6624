"""EventBridge `rate(1 minute)` target: runs the steps listed in composition.py once per tick, in order."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.scheduler.composition import STEPS, compose
from shared.scheduling.tick import run_tick

logger = Logger(service="scheduler")
compose()


@event_source(data_class=EventBridgeEvent)
@logger.inject_lambda_context(clear_state=True)
def handler(event: EventBridgeEvent, context: LambdaContext) -> dict[str, Any]:
    logger.info("scheduler tick", scheduled_time=event.time)
    return run_tick(STEPS, context.get_remaining_time_in_millis)
