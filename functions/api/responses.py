"""Every status an operation can answer, documented in one place and derived from the routes themselves.

Routes declare only what is theirs, through Powertools' `responses=`: their success status(es) (`extra(201)`) and
the errors of their domain (`extra(409, 402)`). `document(app)` adds what follows from the route's shape, once,
when the resolver is built:

- every operation: 414 and 431 (the gateway refuses a too long URI or too large headers), 422 (a parameter or a
  domain rule), 429 (throttled by the stage or the key's rate limit: wait `Retry-After`), 500 (our bug) and 503
  (a dependency is down);
- every operation that is not public: 401 and 403;
- a path parameter: 404 (absent, or another user's);
- a JSON body: 400 (not JSON, not UTF-8), 413 (too large) and 415 (not `application/json`); and 404 when the
  route is not public (the body names a project, a media file, a publisher... that is absent or another user's).

Every error body is `ErrorResponse`, the contract of `functions.api.errors` (and of the gateway's own answers,
`shared.api_gateway`), shown with an example per code.
It has to happen before a route's `dependant` is first built (Powertools collects the response models then), which
is why `create_app` calls it rather than the OpenAPI route; it only reads names, not annotations, so it costs
microseconds at cold start.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import Route
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import BaseModel, ConfigDict, Field

from functions.api.auth import is_public

JSON = "application/json"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
BODY_PARAMETER = "body"  # the name every route gives its JSON body model


class Error(BaseModel):
    model_config = ConfigDict(defer_build=True)

    code: str = Field(description="Stable and machine-readable: branch on this, never on the message.")
    message: str = Field(description="For people; may change.")
    details: Any = Field(default=None, description="What the code needs (e.g. the fields that failed), or null.")
    request_id: str | None = Field(
        default=None, description="On 5xx answers only: the request's correlation id, to quote to the operator."
    )


class ErrorResponse(BaseModel):
    """The body of every error the API itself answers."""

    model_config = ConfigDict(defer_build=True)

    error: Error


# status -> (description, {code: message}) — the codes each status carries, one example each.
ERRORS: dict[int, tuple[str, dict[str, str]]] = {
    400: (
        "The body is not JSON, or not UTF-8 text.",
        {
            "malformed_json": "The request body is not valid JSON.",
            "malformed_body": "The request body is not UTF-8 text.",
        },
    ),
    401: (
        "No, unknown, expired or revoked credentials, or a disabled user (one body for all).",
        {"unauthenticated": "Missing or invalid credentials."},
    ),
    402: (
        "Not enough credits for what this request reserves.",
        {"insufficient_credits": "Not enough credits available for this job."},
    ),
    403: (
        "The credential lacks the scope this request needs (`read`, `write`, `admin`).",
        {"forbidden": "This credential lacks the scope this request needs."},
    ),
    404: (
        "Absent, or another user's: the two answer alike.",
        {"not_found": "Not found."},
    ),
    409: (
        "The resource's state does not allow this request now.",
        {"conflict": "The request conflicts with the resource's current state."},
    ),
    413: (
        "The request body is larger than API Gateway's 10 MB (answered by the gateway, in this contract).",
        {"payload_too_large": "The request body is larger than 10 MB; upload large files to S3."},
    ),
    414: ("The request URI is too long (answered by the gateway).", {"gateway_error": "Request-URI Too Long"}),
    415: (
        "A body that is not `application/json` on a JSON route.",
        {"unsupported_media_type": "The request body must be application/json."},
    ),
    422: (
        "Fields that fail validation (`details` lists `field`, `type`, `message`) or a domain rule.",
        {"validation_failed": "The request did not pass validation."},
    ),
    429: (
        "Too many requests: retry after `Retry-After` seconds.",
        {"throttled": "Too many requests; retry after a second.", "rate_limited": "Too many requests; retry later."},
    ),
    431: (
        "The request headers are too large (answered by the gateway).",
        {"gateway_error": "Request Header Fields Too Large"},
    ),
    500: (
        "Our bug: the body is opaque, the log has the details under the request's correlation id.",
        {"internal_error": "Something went wrong on our side; it has been logged."},
    ),
    503: (
        "A dependency (the database, the vault, e-mail) is unavailable: retry later.",
        {"unavailable": "The service is unavailable; retry later."},
    ),
}
SUCCESS: dict[int, str] = {200: "OK", 201: "Created", 202: "Accepted", 204: "No content"}

# 422 is on every operation: Powertools documents it on each one (in its own shape, which ours replaces), and any
# service may refuse input with a domain rule (InvalidInput).
EVERY_OPERATION = (414, 422, 429, 431, 500, 503)
AUTHENTICATED = (401, 403)
WITH_PATH_PARAMETER = (404,)
WITH_JSON_BODY = (400, 413, 415)


def error(status: int, codes: Mapping[str, str] | None = None, description: str | None = None) -> OpenAPIResponse:
    """The documented error response for `status`: the contract's schema, an example per code."""
    default_description, default_codes = ERRORS[status]
    examples = {
        code: {"summary": message, "value": {"error": {"code": code, "message": message, "details": None}}}
        for code, message in (codes or default_codes).items()
    }
    response: OpenAPIResponse = {
        "description": description or default_description,
        "content": {JSON: {"model": ErrorResponse, "examples": examples}},
    }
    if status in (429, 503):
        response["headers"] = {
            "Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}
        }
    return response


def extra(*statuses: int) -> dict[int, OpenAPIResponse]:
    """A route's own responses: success statuses (the body is the route's return type; none for 204) and errors."""
    declared: dict[int, OpenAPIResponse] = {}
    for status in statuses:
        if status == 204:
            declared[status] = {"description": SUCCESS[status], "content": {}}
        elif status in SUCCESS:
            declared[status] = {"description": SUCCESS[status]}  # Powertools fills in the return annotation
        else:
            declared[status] = error(status)
    return declared


def common_statuses(method: str, rule: str, parameters: Iterable[str]) -> list[int]:
    """The error statuses an operation answers because of its shape (see the module's docstring)."""
    names = set(parameters)
    statuses = list(EVERY_OPERATION)
    if not is_public(method, rule):
        statuses += AUTHENTICATED
    if "<" in rule:
        statuses += WITH_PATH_PARAMETER
    if method in BODY_METHODS and BODY_PARAMETER in names:
        statuses += WITH_JSON_BODY
        if not is_public(method, rule):
            statuses.append(404)  # a body naming a resource (project_id, media_id, ...) that is absent or not yours
    return sorted(set(statuses))


def responses_for(route: Route) -> dict[int, OpenAPIResponse]:
    """The route's declared responses, completed with its default success and the statuses of its shape."""
    declared: dict[int, OpenAPIResponse] = dict(route.responses or {})
    if not any(200 <= status < 300 for status in declared):
        declared[route.status_code] = {"description": SUCCESS.get(route.status_code, "OK")}
    parameters = inspect.signature(route.func).parameters  # names only: annotations stay unevaluated
    for status in common_statuses(route.method, route.path, parameters):
        if status in declared:
            continue
        declared[status] = error(status)
    return declared


def document(routes: Iterable[Route]) -> None:
    """Complete every documented route's `responses` (call before the first request builds a route's model)."""
    for route in routes:
        if route.include_in_schema:
            route.responses = responses_for(route)
            # The resolver's `response_validation_error_http_code=500`, restated per route: Powertools then keeps
            # the route's own 500 (the contract, which `errors._bug` answers) instead of writing its
            # `ResponseValidationError` shape over it.
            route.custom_response_validation_http_code = HTTPStatus.INTERNAL_SERVER_ERROR
