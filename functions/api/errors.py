"""The API's error contract: every error is `{"error": {"code", "message", "details"}}`.

Domain errors map to HTTP by type, here and nowhere else. Anything unexpected is a 500 with an opaque body, and a
database or network failure (the database down, a timeout) is a 503 `unavailable` with `Retry-After`: in both the
traceback goes to the log, and the body and the `X-Request-Id` header carry the request's correlation id (API
Gateway's request id, which every log line of the request carries too), never the exception's text.
A credential over its rate limit is a 429 `rate_limited` with `Retry-After`.
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
from shared.config import get_settings
from shared.db.health import is_unavailable
from shared.identity.ratelimit import RateLimited

SERVICE = "api"  # the handler's logger; this module logs through it (a child), whatever POWERTOOLS_SERVICE_NAME says
logger = Logger(service=SERVICE, child=True)
REQUEST_ID_HEADER = "X-Request-Id"

STATUS_BY_ERROR: dict[type[errors.ConveyorError], HTTPStatus] = {
    errors.BadRequest: HTTPStatus.BAD_REQUEST,
    errors.UnsupportedMediaType: HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
    errors.InvalidInput: HTTPStatus.UNPROCESSABLE_ENTITY,
    errors.NotFound: HTTPStatus.NOT_FOUND,
    errors.Conflict: HTTPStatus.CONFLICT,
    errors.Unauthenticated: HTTPStatus.UNAUTHORIZED,
    errors.Forbidden: HTTPStatus.FORBIDDEN,
    errors.InsufficientCredits: HTTPStatus.PAYMENT_REQUIRED,
    RateLimited: HTTPStatus.TOO_MANY_REQUESTS,
    errors.Unavailable: HTTPStatus.SERVICE_UNAVAILABLE,
}
INTERNAL_ERROR = ("internal_error", "Something went wrong on our side; it has been logged.")
UNAVAILABLE = ("unavailable", "The service is temporarily unavailable; retry later.")


def error_body(status: int, code: str, message: str, details: Any = None, request_id: str | None = None) -> str:
    error: dict[str, Any] = {"code": code, "message": message, "details": details}
    if status >= 500:
        error["request_id"] = request_id  # what to quote to the operator; the log lines of the request carry it
    return json.dumps({"error": error}, default=str)


def error_headers(status: int, request_id: str | None, retry_after_s: int | None = None) -> dict[str, str]:
    headers = {}
    if retry_after_s is None and status == HTTPStatus.SERVICE_UNAVAILABLE:
        retry_after_s = get_settings().unavailable_retry_after_s
    if retry_after_s is not None:
        headers["Retry-After"] = str(max(1, int(retry_after_s)))
    if status >= 500 and request_id:
        headers[REQUEST_ID_HEADER] = request_id
    return headers


def error_response(
    status: int,
    code: str,
    message: str,
    details: Any = None,
    *,
    request_id: str | None = None,
    retry_after_s: int | None = None,
) -> Response:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=error_body(status, code, message, details, request_id),
        headers=error_headers(status, request_id, retry_after_s),
    )


def proxy_error(exc: Exception, request_id: str | None = None) -> dict[str, Any]:
    """The error contract as an API Gateway proxy response, for failures before the request is routed.

    A domain error answers as it maps; anything else was unexpected there (authentication reads the database) and is
    logged with its traceback, then answered 503 if it is an outage and an opaque 500 otherwise.
    """
    retry_after_s = None
    if isinstance(exc, errors.ConveyorError):
        status, code, message, details = int(status_for(exc)), exc.code, exc.message, exc.details
        retry_after_s = getattr(exc, "retry_after_s", None)
    else:
        status, (code, message), details = _unexpected(exc)
    return {
        "statusCode": status,
        "headers": {"Content-Type": content_types.APPLICATION_JSON} | error_headers(status, request_id, retry_after_s),
        "body": error_body(status, code, message, details, request_id),
        "isBase64Encoded": False,
    }


def _unexpected(exc: Exception) -> tuple[int, tuple[str, str], None]:
    if is_unavailable(exc):
        logger.exception("dependency unavailable", error_type=type(exc).__name__)
        return int(HTTPStatus.SERVICE_UNAVAILABLE), UNAVAILABLE, None
    logger.exception("unhandled error", error_type=type(exc).__name__)
    return int(HTTPStatus.INTERNAL_SERVER_ERROR), INTERNAL_ERROR, None


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


def allowed_methods(app: APIGatewayRestResolver, path: str) -> list[str]:
    """The methods some route serves at `path` (empty: no such path)."""
    # A fixed path (`/v1/jobs/batch`) is its own resource, even where a parameterised one (`/v1/jobs/<id>`) matches.
    static = {r.method for r in app._static_routes if r.rule.match(path)}
    return sorted(static or {r.method for r in app._dynamic_routes if r.rule.match(path)})


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

    def request_id() -> str | None:
        return app.current_event.request_context.request_id

    @app.exception_handler(errors.ConveyorError)
    def _domain_error(exc: errors.ConveyorError) -> Response:
        return error_response(
            status_for(exc),
            exc.code,
            exc.message,
            exc.details,
            request_id=request_id(),
            retry_after_s=getattr(exc, "retry_after_s", None),
        )

    @app.exception_handler(ServiceError)
    def _service_error(exc: ServiceError) -> Response:
        return error_response(exc.status_code, HTTPStatus(exc.status_code).phrase.lower().replace(" ", "_"), exc.msg)

    @app.not_found
    def _not_found(exc: NotFoundError) -> Response:
        path = app.current_event.path
        allowed = allowed_methods(app, path)
        if not allowed:
            return error_response(404, "route_not_found", "No such route.", {"path": path})
        # The path exists for other methods: say which (RFC 9110 §15.5.6), as API Gateway's method routing would.
        response = error_response(
            405, "method_not_allowed", "This route does not accept this method.", {"path": path, "allowed": allowed}
        )
        response.headers["Allow"] = ", ".join(allowed)
        return response

    @app.exception_handler(Exception)
    def _unexpected_error(exc: Exception) -> Response:
        status, (code, message), details = _unexpected(exc)
        return error_response(status, code, message, details, request_id=request_id())
