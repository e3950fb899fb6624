"""The API's error contract: every error is `{"error": {"code", "message", "details"}}`.

Domain errors map to HTTP by type, here and nowhere else. Anything unexpected is a 500 with an opaque
body (the details go to the log with the correlation id), because a 5xx is always our bug.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError, ServiceError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from shared import errors

logger = Logger(child=True)

STATUS_BY_ERROR: dict[type[errors.ConveyorError], HTTPStatus] = {
    errors.BadRequest: HTTPStatus.BAD_REQUEST,
    errors.InvalidInput: HTTPStatus.UNPROCESSABLE_ENTITY,
    errors.NotFound: HTTPStatus.NOT_FOUND,
    errors.Conflict: HTTPStatus.CONFLICT,
    errors.Unauthenticated: HTTPStatus.UNAUTHORIZED,
    errors.Forbidden: HTTPStatus.FORBIDDEN,
    errors.InsufficientCredits: HTTPStatus.PAYMENT_REQUIRED,
    errors.Unavailable: HTTPStatus.SERVICE_UNAVAILABLE,
}


def error_response(status: int, code: str, message: str, details: Any = None) -> Response:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps({"error": {"code": code, "message": message, "details": details}}, default=str),
    )


def proxy_error(exc: errors.ConveyorError) -> dict[str, Any]:
    """The error contract as an API Gateway proxy response, for failures before the request is routed."""
    body = {"error": {"code": exc.code, "message": exc.message, "details": exc.details}}
    return {
        "statusCode": int(status_for(exc)),
        "headers": {"Content-Type": content_types.APPLICATION_JSON},
        "body": json.dumps(body, default=str),
        "isBase64Encoded": False,
    }


def status_for(exc: errors.ConveyorError) -> HTTPStatus:
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return HTTPStatus.INTERNAL_SERVER_ERROR  # an unmapped domain error is our bug, not the client's


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    details = []
    for err in exc.errors():
        loc = [str(part) for part in err.get("loc", ())]
        details.append({"field": ".".join(loc), "type": err.get("type"), "message": err.get("msg") or err.get("type")})
    return details


def register(app: APIGatewayRestResolver) -> None:
    """Install the handlers that turn every failure into the error contract."""

    @app.exception_handler(RequestValidationError)
    def _invalid_request(exc: RequestValidationError) -> Response:
        details = _validation_details(exc)
        if any(d["type"] == "json_invalid" for d in details):
            return error_response(400, "malformed_json", "The request body is not valid JSON.", details)
        return error_response(422, "validation_failed", "The request did not pass validation.", details)

    @app.exception_handler(UnicodeDecodeError)
    def _undecodable(exc: UnicodeDecodeError) -> Response:
        # Powertools decodes (base64) bodies as UTF-8 while reading them: bytes that are not text are the client's.
        return error_response(400, "malformed_body", "The request body is not UTF-8 text.")

    @app.exception_handler(errors.ConveyorError)
    def _domain_error(exc: errors.ConveyorError) -> Response:
        return error_response(status_for(exc), exc.code, exc.message, exc.details)

    @app.exception_handler(ServiceError)
    def _service_error(exc: ServiceError) -> Response:
        return error_response(exc.status_code, HTTPStatus(exc.status_code).phrase.lower().replace(" ", "_"), exc.msg)

    @app.not_found
    def _not_found(exc: NotFoundError) -> Response:
        return error_response(404, "route_not_found", "No such route.", {"path": app.current_event.path})

    @app.exception_handler(Exception)
    def _bug(exc: Exception) -> Response:
        logger.exception("unhandled error")
        return error_response(500, "internal_error", "Something went wrong on our side; it has been logged.")
