"""The API skeleton: health, OpenAPI, Swagger UI and the error contract, through real API Gateway events."""

from __future__ import annotations

import io
import json
import os

import pytest
from openapi_spec_validator import validate

from tests.conftest import reconfigure
from tests.support.api import ApiClient
from tests.support.events import load_event


def test_health_answers_200_when_the_database_is_up(api: ApiClient) -> None:
    response = api.get("/v1/health")

    assert response.status == 200
    assert response.json == {"status": "ok", "checks": {"database": "ok"}}


def test_health_answers_503_when_the_database_is_down(api: ApiClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+pg8000://postgres@/nowhere?unix_sock=/nonexistent/.s.PGSQL.5432")
    reconfigure()
    try:
        response = api.get("/v1/health")
    finally:
        monkeypatch.undo()
        reconfigure()

    assert response.status == 503
    assert response.json["checks"] == {"database": "unreachable"}


def test_openapi_document_is_valid_openapi_3(api: ApiClient) -> None:
    response = api.get("/v1/openapi.json")

    assert response.status == 200
    spec = response.json
    assert spec["openapi"].startswith("3.")
    assert "/v1/health" in spec["paths"]
    validate(spec)


def test_swagger_ui_is_served(api: ApiClient) -> None:
    response = api.get("/v1/docs")

    assert response.status == 200
    assert response.headers["content-type"].startswith("text/html")
    assert b"swagger" in response.body.lower()


@pytest.mark.parametrize(("method", "path"), [("GET", "/v1/nope"), ("GET", "/v1/projects/x/y"), ("GET", "/")])
def test_unknown_routes_answer_404_in_the_error_contract(alice, method: str, path: str) -> None:  # type: ignore[no-untyped-def]
    response = alice.client.request(method, path)

    assert response.status == 404
    assert set(response.json["error"]) == {"code", "message", "details"}
    assert response.error_code == "route_not_found"


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("POST", "/v1/health", "GET"),
        ("PUT", "/v1/me", "GET, PATCH"),
        ("PUT", "/v1/projects", "GET, POST"),
        ("OPTIONS", "/v1/jobs/batch", "POST"),  # a fixed path, though /v1/jobs/<job_id> matches it too
    ],
)
def test_a_known_path_with_another_method_is_405_naming_the_allowed_ones(alice, method, path, allowed) -> None:  # type: ignore[no-untyped-def]
    response = alice.client.request(method, path)

    assert response.status == 405
    assert response.error_code == "method_not_allowed"
    assert response.headers["allow"] == allowed


def test_the_sample_event_api_gateway_sends_is_understood(db: object) -> None:
    """A request captured from API Gateway (not built by us) goes through the handler to the error contract."""
    from functions.api.handler import handler
    from local.lambda_context import LambdaContext

    event = load_event("apiGatewayProxyEvent")
    result = handler(event, LambdaContext("conveyor-test-api"))

    # It carries no credentials, so it is turned away before routing, in the same contract.
    assert result["statusCode"] == 401
    assert json.loads(result["body"])["error"]["code"] == "unauthenticated"


def test_each_request_is_logged_with_its_correlation_id(api: ApiClient) -> None:
    from functions.api.handler import handler, logger
    from local.events import api_gateway_event
    from local.lambda_context import LambdaContext

    event = api_gateway_event("GET", "/v1/health")
    stream = io.StringIO()
    previous = logger.registered_handler.setStream(stream)
    logger.setLevel("INFO")
    try:
        handler(event, LambdaContext("conveyor-test-api"))
    finally:
        logger.setLevel(os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"))
        logger.registered_handler.setStream(previous)

    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]
    handled = [line for line in lines if line["message"] == "request handled"]
    assert handled, lines
    assert handled[-1]["correlation_id"] == event["requestContext"]["requestId"]
    assert handled[-1]["status"] == 200


def test_a_method_no_route_takes_is_405_even_where_the_scope_is_lacking(alice) -> None:  # type: ignore[no-untyped-def]
    assert alice.client.request("PUT", "/v1/admin/users").status == 405  # a member, an admin path
    assert alice.client.request("GET", "/v1/admin/users").status == 403  # a route that exists: the scope decides
