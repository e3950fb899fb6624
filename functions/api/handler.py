"""API Gateway (REST proxy) entry point: resolve the event with the shared resolver, log with a correlation id.

Nothing escapes as an exception (API Gateway would answer a bodiless 502): a failure in authentication, or one that
got past the resolver's own exception handlers, becomes the error contract here (503 for an outage, else 500),
logged with its traceback and answered with the request's correlation id.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.api import auth, errors
from functions.api.app import create_app
from functions.api.composition import compose

logger = Logger(service=errors.SERVICE)
compose()
app = create_app()


def _served(method: str, path: str) -> bool:
    return method in errors.allowed_methods(app, path)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        auth.admit(event, served=_served)
        response = app.resolve(event, context)
    except Exception as exc:
        response = errors.proxy_error(exc, (event.get("requestContext") or {}).get("requestId"))
    logger.info(
        "request handled",
        method=event.get("httpMethod"),
        path=event.get("path"),
        status=response.get("statusCode"),
    )
    return response
