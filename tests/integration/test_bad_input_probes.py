"""The hardening probes (issue 11) as tests: input that once made a 500 answers 4xx and changes nothing.

Each class has a specific probe (a body that was valid but for one bad value, which the old code stored until
Postgres refused it) and, where it can be generic, a walk over the resolver's routes so new routes are covered:
every route that takes a body, every route that reads a query string.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from sqlalchemy import text

from shared.db import get_engine
from shared.db.models import Base
from tests.support.users import TestUser

NUL = "\x00"
EMAIL_JOB = {"type": "email.send", "payload": {"to": ["a@example.com"], "subject": "s", "text": "t"}}


# Written by authentication on any request (usage stamps, rate-limit counters), not by what a request asks for.
BOOKKEEPING_COLUMNS = ("last_used_at", "last_seen_at", "rate_window_start", "rate_hits")


def database_fingerprint() -> str:
    """A digest of every row of every table: equal before and after means nothing was changed."""
    parts = []
    drop = "".join(f" - '{c}'" for c in BOOKKEEPING_COLUMNS)
    with get_engine().connect() as conn:
        for table in Base.metadata.sorted_tables:
            if "rate_limit" in table.name:
                continue
            rows = conn.execute(text(f'SELECT (to_jsonb(t){drop})::text FROM "{table.name}" t ORDER BY 1')).scalars()
            rows = list(rows)
            parts.append(f"{table.name}:{len(rows)}:{hashlib.sha256(''.join(rows).encode()).hexdigest()}")
    return "\n".join(parts)


@pytest.fixture
def quiet_db(aws_env, admin: TestUser) -> TestUser:  # type: ignore[no-untyped-def]
    """An admin (every route is open to them), after one request: its key's first use is written, not a probe's."""
    assert admin.client.get("/v1/me").status == 200
    return admin


def routes() -> list[Any]:
    from functions.api.handler import app

    return sorted(app._dynamic_routes + app._static_routes, key=lambda r: (r.rule.pattern, r.method))


def body_routes() -> list[tuple[str, str]]:
    """Every (method, rule) whose handler takes a JSON body, read from the resolver."""
    return sorted({(r.method, r.path) for r in routes() if r.dependant.body_params})


def fill(rule: str) -> str:
    import re

    return re.sub(r"<\w+>", "00000000-0000-0000-0000-000000000001", rule)


# --- 1. text Postgres cannot store --------------------------------------------------------------------------------

NUL_PROBES: list[tuple[str, str, dict[str, Any], str]] = [
    ("POST", "/v1/projects", {"name": f"a{NUL}b"}, "body.name"),
    ("POST", "/v1/projects", {"name": "ok", "description": f"{NUL}"}, "body.description"),
    ("POST", "/v1/items", {"title": f"t{NUL}"}, "body.title"),
    ("POST", "/v1/items", {"title": "t", "tags": ["ok", f"x{NUL}"]}, "body.tags.1"),
    ("POST", "/v1/api-keys", {"name": f"k{NUL}"}, "body.name"),
    ("POST", "/v1/jobs", {**EMAIL_JOB, "name": f"n{NUL}"}, "body.name"),
    ("POST", "/v1/jobs", {**EMAIL_JOB, "payload": {**EMAIL_JOB["payload"], "text": f"t{NUL}"}}, "body.payload.text"),
    ("POST", "/v1/jobs", {"type": "email.send", "payload": {f"k{NUL}": 1}}, f"body.payload.k{NUL}"),
    ("POST", "/v1/jobs/batch", {"jobs": [EMAIL_JOB, {**EMAIL_JOB, "name": NUL}]}, "body.jobs.1.name"),
    ("PATCH", "/v1/me", {"name": f"me{NUL}"}, "body.name"),
    ("PATCH", "/v1/me", {"profile": {"bio": f"b{NUL}"}}, "body.profile.bio"),
    ("POST", "/v1/schedules", {"name": f"s{NUL}", "job_type": "email.send", "cron": "0 * * * *"}, "body.name"),
    ("POST", "/v1/automations", {"name": f"a{NUL}"}, "body.name"),
    ("POST", "/v1/price-presets", {"name": f"p{NUL}", "price_cents": 100}, "body.name"),
    ("POST", "/v1/credentials", {"provider": "openai", "secret": "sk-123456789", "label": f"l{NUL}"}, "body.label"),
    ("POST", "/v1/items", {"title": "lone surrogate \ud800"}, "body.title"),
]


@pytest.mark.parametrize(("method", "path", "body", "field"), NUL_PROBES)
def test_unstorable_text_in_a_body_is_422_and_changes_nothing(
    quiet_db: TestUser, method: str, path: str, body: dict[str, Any], field: str
) -> None:
    # Given the database as it is
    before = database_fingerprint()

    # When a body holds a string with U+0000 (or a lone surrogate, which UTF-8 cannot encode)
    response = quiet_db.client.request(method, path, json_body=body)

    # Then it is refused, naming the field, and nothing was stored
    assert (response.status, response.error_code) == (422, "validation_failed"), response.body[:300]
    assert field in [d["field"] for d in response.json["error"]["details"]]
    assert database_fingerprint() == before


@pytest.mark.parametrize(("method", "rule"), body_routes())
def test_every_body_route_refuses_unstorable_text_before_validation(quiet_db: TestUser, method: str, rule: str) -> None:
    before = database_fingerprint()
    response = quiet_db.client.request(method, fill(rule), json_body={"anything": {"deep": [f"x{NUL}"]}})
    assert (response.status, response.error_code) == (422, "validation_failed"), response.body[:300]
    assert response.json["error"]["details"][0]["type"] == "string_unstorable"
    assert database_fingerprint() == before


@pytest.mark.parametrize(
    ("path", "query"),
    [("/v1/jobs", {"type": f"x{NUL}"}), ("/v1/metrics", {"name": f"x{NUL}"}), ("/v1/metrics", {"label": NUL})],
)
def test_unstorable_text_in_a_query_string_is_422(quiet_db: TestUser, path: str, query: dict[str, str]) -> None:
    response = quiet_db.client.get(path, query=query)
    assert (response.status, response.error_code) == (422, "validation_failed"), response.body[:300]
    assert response.json["error"]["details"][0]["field"] == f"query.{next(iter(query))}"


@pytest.mark.parametrize("rule", sorted({r.path for r in routes() if r.method == "GET"}))
def test_every_read_route_refuses_unstorable_text_in_its_query_string(quiet_db: TestUser, rule: str) -> None:
    response = quiet_db.client.get(fill(rule), query={"name": NUL})
    assert (response.status, response.error_code) == (422, "validation_failed"), response.body[:300]


def test_unstorable_text_in_a_header_is_422(aws_env, api) -> None:  # type: ignore[no-untyped-def]
    # The User-Agent of a login is stored with its session.
    response = api.post(
        "/v1/auth/login", json_body={"email": "x@example.com", "password": "p"}, headers={"User-Agent": f"ua{NUL}"}
    )
    assert (response.status, response.error_code) == (422, "validation_failed"), response.body[:300]
    assert response.json["error"]["details"][0]["field"] == "header.User-Agent"


def test_text_that_can_be_stored_still_is(quiet_db: TestUser) -> None:
    # An escaped backslash before "u0000" is six ordinary characters, not a NUL.
    created = quiet_db.client.post("/v1/projects", body='{"name": "a\\\\u0000 ✓ 😀"}', headers=JSON)
    assert created.status == 201, created.body[:300]
    assert created.json["name"] == "a\\u0000 ✓ 😀"


# --- 2. JSON too deep or with numbers too long --------------------------------------------------------------------

JSON = {"Content-Type": "application/json"}


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    "body",
    [
        nested(1_000),
        nested(100_000),
        '{"name": "x", "description": ' + nested(5_000) + "}",
        '{"a": ' * 1_000 + "1" + "}" * 1_000,
    ],
    ids=["array-1000", "array-100000", "inside-a-field", "object-1000"],
)
def test_json_nested_too_deep_is_400(quiet_db: TestUser, body: str) -> None:
    before = database_fingerprint()
    response = quiet_db.client.post("/v1/projects", body=body, headers=JSON)
    assert (response.status, response.error_code) == (400, "malformed_json"), response.body[:300]
    assert "deep" in response.json["error"]["message"]
    assert database_fingerprint() == before


def test_the_depth_limit_is_exact(quiet_db: TestUser) -> None:
    from functions.api.request_guard import MAX_DEPTH

    def job(depth: int) -> str:  # the body's object around an array nested depth - 1 deep
        inner = nested(depth - 1)
        return json.dumps({**EMAIL_JOB, "name": "n"})[:-1] + f', "dedupe_key": "d{depth}", "x": {inner}}}'

    at_limit = quiet_db.client.post("/v1/jobs", body=job(MAX_DEPTH), headers=JSON)
    over = quiet_db.client.post("/v1/jobs", body=job(MAX_DEPTH + 1), headers=JSON)
    assert at_limit.status == 422, at_limit.body[:300]  # parsed: refused by the schema (no field `x`), not the guard
    assert at_limit.error_code == "validation_failed"
    assert (over.status, over.error_code) == (400, "malformed_json")


@pytest.mark.parametrize(
    "number",
    ["9" * 5_000, "1" * 51, "-" + "1" * 50, "1." + "0" * 60, "1e400", "-1e400", "NaN", "Infinity", "-Infinity"],
    ids=["5000-digits", "51-digits", "negative-51", "long-fraction", "1e400", "-1e400", "NaN", "Inf", "-Inf"],
)
def test_a_number_too_long_or_not_finite_is_400(quiet_db: TestUser, number: str) -> None:
    before = database_fingerprint()
    body = json.dumps(EMAIL_JOB)[:-2] + f', "n": {number}}}}}'  # inside the job payload (jsonb)
    response = quiet_db.client.post("/v1/jobs", body=body, headers=JSON)
    assert (response.status, response.error_code) == (400, "malformed_json"), response.body[:300]
    assert database_fingerprint() == before


def test_long_but_bounded_numbers_are_stored(quiet_db: TestUser) -> None:
    big = 10**40
    body = json.dumps({**EMAIL_JOB, "payload": {**EMAIL_JOB["payload"]}})
    response = quiet_db.client.post("/v1/jobs", body=body[:-2] + f', "n": {big}, "f": 1.5e300}}}}', headers=JSON)
    # email.send's payload has no `n`: its schema refuses it, after the guard parsed the body.
    assert response.status == 422, response.body[:300]
    assert response.error_code != "malformed_json"


# --- 3. bodies that are not JSON ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "text/plain; charset=utf-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; b=x",
        "application/xml",
        "application/octet-stream",
    ],
)
def test_a_body_that_is_not_json_is_415(quiet_db: TestUser, content_type: str) -> None:
    before = database_fingerprint()
    response = quiet_db.client.post("/v1/projects", body='{"name": "x"}', headers={"Content-Type": content_type})
    assert (response.status, response.error_code) == (415, "unsupported_media_type"), response.body[:300]
    assert database_fingerprint() == before


@pytest.mark.parametrize(("method", "rule"), body_routes())
def test_every_body_route_answers_415_to_text_plain(quiet_db: TestUser, method: str, rule: str) -> None:
    response = quiet_db.client.request(method, fill(rule), body="{}", headers={"Content-Type": "text/plain"})
    assert (response.status, response.error_code) == (415, "unsupported_media_type"), response.body[:300]


def test_a_json_media_type_in_another_case_is_415_not_500(quiet_db: TestUser) -> None:
    response = quiet_db.client.post("/v1/projects", body='{"name": "x"}', headers={"Content-Type": "Application/JSON"})
    assert response.status in (201, 415), response.body[:300]


def test_a_body_without_content_type_is_read_as_json(quiet_db: TestUser) -> None:
    response = quiet_db.client.post("/v1/projects", body='{"name": "no type"}')
    assert response.status == 201, response.body[:300]


def test_a_json_body_with_a_charset_is_json(quiet_db: TestUser) -> None:
    headers = {"Content-Type": "application/json; charset=utf-8"}
    assert quiet_db.client.post("/v1/projects", body='{"name": "x"}', headers=headers).status == 201


def test_a_bodiless_post_with_any_content_type_still_works(quiet_db: TestUser) -> None:
    created = quiet_db.client.post("/v1/webhooks/secret", headers={"Content-Type": "text/plain"})
    assert created.status == 201, created.body[:300]


# --- 4. integers beyond the columns -------------------------------------------------------------------------------


@pytest.mark.parametrize("sort_order", [2**31, -(2**31) - 1, 2**63, 10**30])
def test_a_sort_order_beyond_int4_is_422(quiet_db: TestUser, sort_order: int) -> None:
    before = database_fingerprint()
    created = quiet_db.client.post("/v1/automations", json_body={"name": "a", "sort_order": sort_order})
    assert (created.status, created.error_code) == (422, "validation_failed"), created.body[:300]
    assert database_fingerprint() == before


def test_a_sort_order_beyond_int4_in_a_patch_is_422(quiet_db: TestUser) -> None:
    automation = quiet_db.client.post("/v1/automations", json_body={"name": "a", "sort_order": 5}).json
    before = database_fingerprint()
    patched = quiet_db.client.patch(f"/v1/automations/{automation['id']}", json_body={"sort_order": 2**31})
    assert (patched.status, patched.error_code) == (422, "validation_failed"), patched.body[:300]
    assert database_fingerprint() == before


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/schedules", {"name": "s", "job_type": "email.send", "interval_seconds": 2**31}),
        ("/v1/schedules", {"name": "s", "job_type": "email.send", "cron": "0 * * * *", "max_attempts": 2**31}),
        ("/v1/media", {"filename": "a.png", "content_type": "image/png", "size": 2**63}),
        ("/v1/media", {"filename": "a.png", "content_type": "image/png", "size": 10, "ttl_seconds": 2**31}),
    ],
)
def test_other_integers_beyond_their_columns_are_4xx(quiet_db: TestUser, path: str, body: dict[str, Any]) -> None:
    before = database_fingerprint()
    response = quiet_db.client.post(path, json_body=body)
    assert 400 <= response.status < 500, response.body[:300]
    assert database_fingerprint() == before


def test_every_integer_in_a_request_schema_fits_its_column() -> None:
    """Each `integer` property of a request body in the OpenAPI has bounds that JSON (hence int8) holds exactly."""
    from functions.api.handler import app

    spec = json.loads(app.get_openapi_json_schema())
    schemas = spec["components"]["schemas"]
    bodies = set()
    for path in spec["paths"].values():
        for operation in path.values():
            ref = (
                operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
            ).get("$ref")
            if ref:
                bodies.add(ref.rsplit("/", 1)[-1])
    unbounded = []
    seen: set[str] = set()
    while bodies:
        name = bodies.pop()
        seen.add(name)
        for prop, schema in _properties(schemas[name]):
            for ref in _refs(schema):
                if ref not in seen:
                    bodies.add(ref)
            for option in schema.get("anyOf", [schema]):
                low = option.get("minimum", option.get("exclusiveMinimum", -(2**64)))
                high = option.get("maximum", option.get("exclusiveMaximum", 2**64))
                if option.get("type") == "integer" and not -(2**53) < low <= high < 2**53:  # exact in JSON
                    unbounded.append(f"{name}.{prop}")
    assert unbounded == []


def _properties(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return list(schema.get("properties", {}).items())


def _refs(schema: Any) -> list[str]:
    if isinstance(schema, dict):
        found = [schema["$ref"].rsplit("/", 1)[-1]] if "$ref" in schema else []
        return found + [r for v in schema.values() for r in _refs(v)]
    if isinstance(schema, list):
        return [r for v in schema for r in _refs(v)]
    return []


# --- 5. times without a time zone ---------------------------------------------------------------------------------


@pytest.mark.parametrize("until", ["2030-01-01T00:00:00", "2030-01-01", 1_900_000_000, "1900000000"])
def test_an_api_key_until_without_a_time_zone_is_422(quiet_db: TestUser, until: Any) -> None:
    before = database_fingerprint()
    response = quiet_db.client.post("/v1/api-keys", json_body={"name": "k", "until": until})
    assert (response.status, response.error_code) == (422, "validation_failed"), response.body[:300]
    assert database_fingerprint() == before


def test_an_api_key_until_with_a_time_zone_is_taken(quiet_db: TestUser) -> None:
    response = quiet_db.client.post("/v1/api-keys", json_body={"name": "k", "until": "2030-01-01T00:00:00+02:00"})
    assert response.status == 201, response.body[:300]
    assert response.json["until"].startswith("2029-12-31T22:00:00")


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/v1/metrics", {"until": "0.5"}),
        ("/v1/metrics", {"since": "1700000000"}),
        ("/v1/metrics", {"until": "2030-01-01T00:00:00"}),
        ("/v1/jobs", {"created_after": "2030-01-01T00:00:00"}),
        ("/v1/jobs", {"created_before": "12"}),
    ],
)
def test_a_time_in_a_query_needs_iso_8601_with_a_zone(quiet_db: TestUser, path: str, query: dict[str, str]) -> None:
    response = quiet_db.client.get(path, query=query)
    assert (response.status, response.error_code) == (422, "validation_failed"), response.body[:300]


def test_a_time_in_a_query_with_a_zone_is_taken(quiet_db: TestUser) -> None:
    response = quiet_db.client.get("/v1/metrics", query={"until": "2030-01-01T00:00:00Z"})
    assert response.status == 200, response.body[:300]


# --- 6. schemas as strict as the validation -----------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, 1, "true", "yes"])
def test_a_documented_bool_takes_only_true_or_false(make_user, aws_env, value: Any) -> None:  # type: ignore[no-untyped-def]
    admin = make_user(role="admin")
    response = admin.client.patch("/v1/admin/instance-settings", json_body={"team_invites_enabled": value})
    assert (response.status, response.error_code) == (422, "validation_failed"), response.body[:300]


def test_the_price_preset_schema_requires_a_price() -> None:
    from shared.automations.schemas import PresetCreate

    schema = PresetCreate.model_json_schema()
    assert {"required": ["price_cents"]} in schema["anyOf"]
    assert {"required": ["min_price_cents", "max_price_cents"]} in schema["anyOf"]


def test_a_price_preset_without_a_price_is_422(quiet_db: TestUser) -> None:
    response = quiet_db.client.post("/v1/price-presets", json_body={"name": "no price"})
    assert (response.status, response.error_code) == (422, "validation_failed"), response.body[:300]


def test_the_signup_schema_carries_the_email_rule(aws_env, api) -> None:  # type: ignore[no-untyped-def]
    from shared.identity.schemas import SignupIn

    assert "pattern" in SignupIn.model_json_schema()["properties"]["email"]
    response = api.post("/v1/auth/signup", json_body={"email": "not an email", "password": "a long password 1"})
    assert (response.status, response.error_code) == (422, "validation_failed"), response.body[:300]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/price-presets", {"name": "p", "price_cents": 100, "sort_order": False}, "sort_order"),
        ("/v1/price-presets", {"name": "p", "price_cents": "100"}, "price_cents"),
        ("/v1/price-presets", {"name": "p", "price_cents": 100, "sort_order": 1.0}, "sort_order"),
        ("/v1/jobs", {"type": "email.send", "payload": {}, "max_attempts": True}, "max_attempts"),
        ("/v1/jobs", {"type": "email.send", "payload": {}, "timeout_s": "30"}, "timeout_s"),
        ("/v1/automations", {"name": "a", "sort_order": True}, "sort_order"),
    ],
)
def test_an_integer_in_a_body_takes_a_json_integer_only(alice, path: str, body: dict[str, Any], field: str) -> None:  # type: ignore[no-untyped-def]
    response = alice.client.post(path, json_body=body)

    assert response.status == 422, response.body[:300]
    assert [d["field"] for d in response.json["error"]["details"]] == [f"body.{field}"], response.body[:300]
