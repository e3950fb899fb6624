"""EventBridge `rate(1 minute)` target: runs every due scheduler step once per tick."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.automations import cache  # noqa: F401 (registers cache.expired)
from shared.automations import runner as automations_runner  # noqa: F401 (registers automations.due)
from shared.identity import housekeeping  # noqa: F401 (registers its steps)
from shared.jobs import schedules, sweep, workers  # noqa: F401 (register their steps)
from shared.media import housekeeping as media_housekeeping  # noqa: F401 (registers media.expired)
from shared.publishing import items  # noqa: F401 (registers items.due, after automations.due)
from shared.scheduling.tick import run_tick

logger = Logger(service="scheduler")


@event_source(data_class=EventBridgeEvent)
@logger.inject_lambda_context(clear_state=True)
def handler(event: EventBridgeEvent, context: LambdaContext) -> dict[str, Any]:
    logger.info("scheduler tick", scheduled_time=event.time)
    return run_tick(context.get_remaining_time_in_millis)
