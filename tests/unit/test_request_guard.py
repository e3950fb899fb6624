"""The input guard's pieces on their own: depth measured without parsing, number and string rules."""

from __future__ import annotations

import json

import pytest

from functions.api.request_guard import MAX_DEPTH, MAX_NUMBER_CHARS, check, json_depth, load_json, unstorable
from shared.errors import BadRequest, InvalidInput, UnsupportedMediaType


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        (nested(MAX_DEPTH + 1), MAX_DEPTH + 1),
        ('{"a": [' + nested(100) + "]}", 102),
        ('["' + "[" * 500 + '"' + ", 1]" + nested(70), 70),  # brackets inside a string do not count
        ('["\\"' + "[" * 500 + '"]' + nested(70), 70),  # nor after an escaped quote in it
    ],
)
def test_depth_is_measured_without_parsing(text: str, depth: int) -> None:
    assert json_depth(text) == depth


def test_a_shallow_body_is_not_measured() -> None:
    assert json_depth(nested(MAX_DEPTH)) == 0  # too few brackets to be too deep at all


def test_the_depth_limit_counts_containers() -> None:
    assert load_json(nested(MAX_DEPTH)) is not None
    with pytest.raises(BadRequest) as refused:
        load_json(nested(MAX_DEPTH + 1))
    assert refused.value.code == "malformed_json"


@pytest.mark.parametrize("literal", ["1" * (MAX_NUMBER_CHARS + 1), "1e400", "NaN", "-Infinity", "0." + "1" * 60])
def test_numbers_beyond_the_limits_are_malformed_json(literal: str) -> None:
    with pytest.raises(BadRequest) as refused:
        load_json(f'{{"n": {literal}}}')
    assert refused.value.code == "malformed_json"


def test_numbers_within_the_limits_parse_as_json_does() -> None:
    text = json.dumps({"i": 10**40, "f": 1.5e300, "neg": -(2**63), "small": 1e-300})
    assert load_json(text) == json.loads(text)


def test_every_unstorable_string_is_named_by_its_path() -> None:
    with pytest.raises(InvalidInput) as refused:
        load_json(json.dumps({"a": ["ok", "x\x00"], "b\x00": 1, "c": {"d": "\ud83d"}}))
    fields = {d["field"] for d in refused.value.details}
    assert fields == {"body.a.1", "body.b\x00", "body.c.d"}
    assert refused.value.code == "validation_failed"


@pytest.mark.parametrize(("text", "why"), [("a\x00", "NUL"), ("\udfff", "surrogate"), ("ok ✓ 😀", None)])
def test_unstorable(text: str, why: str | None) -> None:
    assert (why in (unstorable(text) or "")) if why else unstorable(text) is None


def event(**overrides: object) -> dict[str, object]:
    return {"httpMethod": "POST", "path": "/v1/projects", "headers": {}, "body": None, **overrides}


def test_check_refuses_a_non_json_body_but_not_the_webhook_or_an_empty_one() -> None:
    with pytest.raises(UnsupportedMediaType):
        check(event(headers={"content-type": "text/plain"}, body="x"))
    check(event(path="/v1/payments/webhook", headers={"Content-Type": "application/octet-stream"}, body="eA=="))
    check(event(headers={"Content-Type": "text/plain"}, body=None))
    check(event(headers={"Content-Type": "application/json; charset=utf-8"}, body="{}"))
    check(event(body="{}"))  # no Content-Type: read as JSON


def test_check_names_the_query_value_header_or_path() -> None:
    with pytest.raises(InvalidInput) as refused:
        check(
            event(
                httpMethod="GET",
                queryStringParameters={"q": "\x00"},
                multiValueQueryStringParameters={"q": ["\x00"]},
                headers={"User-Agent": "x\x00"},
            )
        )
    assert [d["field"] for d in refused.value.details] == ["query.q", "header.User-Agent"]
