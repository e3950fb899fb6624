"""CloudFormation custom resource that migrates the database before the new code serves.

Create and Update run `alembic upgrade head` (under an advisory lock, so concurrent deploys queue up);
Delete does nothing: removing a stack must never drop data.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.db.migrate import upgrade
from shared.deploy.custom_resource import respond

logger = Logger(service="migrate")
PHYSICAL_ID = "conveyor-database-migrations"


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> None:
    request_type = event["RequestType"]
    physical_id = event.get("PhysicalResourceId", PHYSICAL_ID)
    try:
        data: dict[str, Any] = {}
        if request_type in ("Create", "Update"):
            revision = upgrade()
            logger.info("database migrated", revision=revision)
            data = {"Revision": revision or ""}
        respond(event, status="SUCCESS", physical_resource_id=physical_id, data=data)
    except Exception as exc:
        logger.exception("migration failed")
        respond(
            event,
            status="FAILED",
            physical_resource_id=physical_id,
            reason=f"{request_type} failed: {type(exc).__name__}",
            log_stream_name=context.log_stream_name,
        )
