"""The OpenAPI document tells the truth: every status an operation answers is documented, in the error contract.

The spec is read from `GET /v1/openapi.json` (as a client reads it), walked operation by operation for the statuses
every operation of its shape answers, and checked against what the API really answers to a few requests.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from openapi_spec_validator import validate

from functions.api.auth import is_public
from functions.api.params import CURSOR_MAX_LENGTH, CURSOR_MIN_LENGTH, CURSOR_PATTERN
from shared.db.pagination import encode_cursor
from tests.support.api import ApiClient, ApiResponse
from tests.support.users import TestUser

ERROR_REF = "#/components/schemas/ErrorResponse"
METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture
def spec(api: ApiClient) -> dict[str, Any]:
    response = api.get("/v1/openapi.json")
    assert response.status == 200
    return response.json


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m.upper(), path, op) for path, item in spec["paths"].items() for m, op in item.items() if m in METHODS]


def statuses(spec: dict[str, Any], method: str, path: str) -> set[int]:
    return {int(code) for code in spec["paths"][path][method.lower()]["responses"]}


def rule_of(path: str) -> str:
    return re.sub(r"\{(\w+)\}", r"<\1>", path)


def test_the_document_is_valid_openapi(spec: dict[str, Any]) -> None:
    validate(spec)
    assert len(operations(spec)) >= 80


def test_the_error_contract_is_a_component(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    envelope = schemas["ErrorResponse"]
    assert envelope["required"] == ["error"]
    error = schemas[envelope["properties"]["error"]["$ref"].rsplit("/", 1)[1]]
    assert set(error["properties"]) == {"code", "message", "details", "request_id"}  # request_id: on 5xx only
    assert set(error["required"]) == {"code", "message"}


def test_every_operation_documents_the_statuses_of_its_shape(spec: dict[str, Any]) -> None:
    missing = {}
    for method, path, op in operations(spec):
        expected = {414, 422, 429, 431, 500, 503}
        if not is_public(method, path):
            expected |= {401, 403}
        if "{" in path:
            expected |= {404}
        if "requestBody" in op:
            expected |= {400, 413, 415} if is_public(method, path) else {400, 404, 413, 415}
        documented = {int(code) for code in op["responses"]}
        if not expected <= documented or not any(200 <= code < 300 for code in documented):
            missing[f"{method} {path}"] = sorted(expected - documented)
    assert missing == {}


def test_every_error_status_has_the_contracts_schema_and_an_example(spec: dict[str, Any]) -> None:
    wrong = []
    for method, path, op in operations(spec):
        for code, response in op["responses"].items():
            if int(code) < 400 or (path == "/v1/health" and code == "503"):
                continue
            content = response.get("content", {}).get("application/json", {})
            examples = content.get("examples") or {}
            ok = content.get("schema") == {"$ref": ERROR_REF} and examples
            ok = ok and all(set(e["value"]["error"]) == {"code", "message", "details"} for e in examples.values())
            if not ok:
                wrong.append(f"{method} {path} {code}")
    assert wrong == []


def test_success_statuses_are_the_ones_the_routes_return(spec: dict[str, Any]) -> None:
    created = spec["paths"]["/v1/projects"]["post"]["responses"]
    assert "200" not in created
    assert created["201"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ProjectOut"}

    deleted = spec["paths"]["/v1/projects/{project_id}"]["delete"]["responses"]
    assert "200" not in deleted
    assert not deleted["204"].get("content")

    assert {200, 201, 402, 409} <= statuses(spec, "POST", "/v1/jobs")  # a dedupe_key hit is a 200, a new job a 201
    assert statuses(spec, "POST", "/v1/items/{item_id}/publish-now") & {200, 201, 202} == {202}
    health = spec["paths"]["/v1/health"]["get"]["responses"]
    assert health["503"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Health"}


def test_429_tells_when_to_retry(spec: dict[str, Any]) -> None:
    assert "Retry-After" in spec["paths"]["/v1/me"]["get"]["responses"]["429"]["headers"]


def test_list_parameters_state_their_limits(spec: dict[str, Any]) -> None:
    unbounded = []
    for method, path, op in operations(spec):
        for param in op.get("parameters", []):
            schema = param["schema"]
            schema = next((s for s in schema.get("anyOf", []) if s.get("type") != "null"), schema)
            if param["name"] in ("limit", "offset") and "maximum" not in schema:
                unbounded.append(f"{method} {path} {param['name']}")
            if param["name"] == "cursor" and not (schema.get("pattern") and schema.get("maxLength")):
                unbounded.append(f"{method} {path} cursor")
    assert unbounded == []


def test_the_documented_cursor_pattern_admits_the_cursors_we_issue() -> None:
    cursor = encode_cursor(datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), uuid.uuid4())

    without_microseconds = encode_cursor(datetime(2026, 1, 1, tzinfo=UTC), uuid.uuid4())

    for issued in (cursor, without_microseconds):
        assert re.fullmatch(CURSOR_PATTERN, issued)
        assert CURSOR_MIN_LENGTH <= len(issued) <= CURSOR_MAX_LENGTH


@pytest.mark.parametrize("path", ["/v1/projects", "/v1/schedules", "/v1/sale-queue", "/v1/admin/workers"])
def test_an_offset_past_the_bound_is_a_422_not_a_500(admin: TestUser, path: str) -> None:
    for offset in (str(2**63), "1000001"):
        response = admin.client.get(path, query={"offset": offset})

        assert response.status == 422, response.body[:300]
        assert response.error_code == "validation_failed"
    assert admin.client.get(path, query={"offset": "1000000"}).status == 200


def test_what_the_api_answers_is_documented(spec: dict[str, Any], alice: TestUser, admin: TestUser) -> None:
    """Real requests for each status class, each answer checked against the operation's documented statuses."""
    seen: list[tuple[str, str, ApiResponse]] = []

    def call(client: ApiClient, method: str, path: str, rule: str, **kwargs: Any) -> ApiResponse:
        response = client.request(method, path, **kwargs)
        seen.append((method, rule, response))
        return response

    project = call(alice.client, "POST", "/v1/projects", "/v1/projects", json_body={"name": "p"}).json
    one = f"/v1/projects/{project['id']}"
    call(alice.client, "GET", one, "/v1/projects/{project_id}")
    call(
        alice.client, "POST", "/v1/projects", "/v1/projects", body="{oops", headers={"Content-Type": "application/json"}
    )
    call(alice.client, "POST", "/v1/projects", "/v1/projects", json_body={"name": ""})
    call(alice.client, "GET", "/v1/projects", "/v1/projects", query={"cursor": "x", "offset": "-1"})
    call(ApiClient(), "GET", "/v1/projects", "/v1/projects")
    call(alice.client, "GET", "/v1/admin/workers", "/v1/admin/workers")
    call(alice.client, "POST", "/v1/jobs", "/v1/jobs", json_body={"type": "noop"})
    call(alice.client, "DELETE", one, "/v1/projects/{project_id}")
    call(alice.client, "GET", one, "/v1/projects/{project_id}")
    call(admin.client, "GET", "/v1/admin/workers", "/v1/admin/workers")
    call(ApiClient(), "POST", "/v1/auth/login", "/v1/auth/login", json_body={"email": "x@example.com", "password": "x"})

    undocumented = [
        f"{method} {rule} {r.status}" for method, rule, r in seen if r.status not in statuses(spec, method, rule)
    ]
    assert undocumented == []
    assert {r.status for _, _, r in seen} >= {200, 201, 204, 400, 401, 403, 404, 422}
