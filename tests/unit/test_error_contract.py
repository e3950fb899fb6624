"""Request validation failures become the error contract: 400 for malformed JSON, 422 for invalid fields."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_lambda_powertools.event_handler.api_gateway import Router
from pydantic import BaseModel, Field

from functions.api.app import create_app
from local.events import api_gateway_event
from local.lambda_context import LambdaContext
from shared.errors import Conflict, NotFound


class Thing(BaseModel):
    name: str = Field(min_length=1)
    size: int = Field(ge=0)


def _app():  # type: ignore[no-untyped-def]
    """The real resolver with a probe router, so the mapping is exercised through Powertools' own validation."""
    app = create_app()
    router = Router()

    @router.post("/v1/probe")
    def probe(thing: Thing) -> dict[str, Any]:
        if thing.name == "taken":
            raise Conflict("That name is taken.", details={"name": thing.name})
        if thing.name == "ghost":
            raise NotFound("No such thing.")
        if thing.name == "bug":
            raise RuntimeError("database password is hunter2")
        return {"ok": True}

    app.include_router(router)
    return app


def _post(body: str) -> tuple[int, dict[str, Any]]:
    event = api_gateway_event("POST", "/v1/probe", headers={"Content-Type": "application/json"}, body=body)
    result = _app().resolve(event, LambdaContext("conveyor-test-api"))
    return result["statusCode"], json.loads(result["body"])


def test_malformed_json_is_a_400() -> None:
    status, body = _post("{not json")

    assert status == 400
    assert body["error"]["code"] == "malformed_json"


@pytest.mark.parametrize(
    ("payload", "field"),
    [({"name": "", "size": 1}, "body.name"), ({"name": "a", "size": -1}, "body.size"), ({"name": "a"}, "body.size")],
)
def test_invalid_fields_are_a_422_naming_the_field(payload: dict[str, Any], field: str) -> None:
    status, body = _post(json.dumps(payload))

    assert status == 422
    assert body["error"]["code"] == "validation_failed"
    assert body["error"]["message"]
    assert [d["field"] for d in body["error"]["details"]] == [field]


@pytest.mark.parametrize(("name", "status", "code"), [("taken", 409, "conflict"), ("ghost", 404, "not_found")])
def test_domain_errors_map_to_their_status(name: str, status: int, code: str) -> None:
    assert _post(json.dumps({"name": name, "size": 1}))[0] == status
    assert _post(json.dumps({"name": name, "size": 1}))[1]["error"]["code"] == code


def test_an_unexpected_error_is_an_opaque_500() -> None:
    status, body = _post(json.dumps({"name": "bug", "size": 1}))

    assert status == 500
    assert body["error"]["code"] == "internal_error"
    assert "hunter2" not in json.dumps(body)
