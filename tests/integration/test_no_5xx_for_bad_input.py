"""No input a client controls produces a 5xx: every route, fed malformed ids, bodies and query strings.

Like the isolation test, the routes are read from the resolver, so new routes are covered when they appear.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.support.users import TestUser

BAD_IDS = ["not-a-uuid", "00000000-0000-0000-0000-000000000000", "%00", "1" * 300]
BAD_BODIES: list[Any] = [None, {}, [], "text", 12, {"unexpected": True}, {"name": "x" * 100_000}, {"limit": -1}]
BAD_QUERIES = [
    {"limit": "-1"},
    {"limit": "abc"},
    {"limit": "100000"},
    {"cursor": "garbage"},
    {"cursor": "eyJhIjoxfQ"},
    {"offset": "-5"},
    {"provider": "\x00"},
    {"role": "emperor"},
    {"disabled": "maybe"},
]


def all_routes() -> list[tuple[str, str]]:
    from functions.api.handler import app

    return sorted({(r.method, r.path) for r in app._dynamic_routes + app._static_routes})


def _fill(rule: str, value: str) -> str:
    return re.sub(r"<\w+>", value, rule)


@pytest.mark.parametrize(("method", "rule"), all_routes())
def test_bad_input_never_gets_a_5xx(aws_env, admin: TestUser, method: str, rule: str) -> None:  # type: ignore[no-untyped-def]
    paths = [_fill(rule, bad) for bad in BAD_IDS] if "<" in rule else [rule]
    for path in paths:
        for body in BAD_BODIES if method in ("POST", "PUT", "PATCH") else [None]:
            response = admin.client.request(method, path, json_body=body)
            assert response.status < 500 or response.status == 503, (method, path, body, response.body[:300])
        for query in BAD_QUERIES:
            response = admin.client.request(method, path, query=query)
            assert response.status < 500 or response.status == 503, (method, path, query, response.body[:300])


def test_raw_non_json_bodies_are_client_errors(admin: TestUser) -> None:
    for body in (b"\xff\xfe\x00garbage", "{'single': 'quotes'}", "{" * 10_000):
        response = admin.client.request("POST", "/v1/projects", body=body, headers={"Content-Type": "application/json"})
        assert 400 <= response.status < 500, response.body[:300]
