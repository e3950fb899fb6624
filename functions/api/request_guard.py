"""The API's input guard: what every request's strings, JSON and media type must satisfy before any route sees it.

Two places, one set of rules (the limits are in docs/api.md, "Input limits"):

- `check(event)`, before routing: the body's media type (JSON only, on every route but RAW_BODY_ROUTES) and
  every query-string, path and header value.
- `load_json(text)`, the resolver's JSON body parser (Powertools calls it for routes that take a body, in place of
  `json.loads`): the nesting depth is measured before parsing, number literals are bounded while parsing, and
  every decoded string and key is checked after it.

A string Postgres cannot store (`text` and `jsonb` refuse U+0000; UTF-8 has no lone surrogates, so the driver
cannot even encode one) is refused here once, for every field of every route, instead of by a validator per field
— or, as before, by the database with a 500. A refusal raises a domain error (`functions/api/errors.py` maps it
to the error contract) and, because it happens before the route runs, nothing is changed.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
from itertools import accumulate
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestUnsupportedContentType

from functions.api import errors
from shared.errors import BadRequest, ConveyorError, InvalidInput, UnsupportedMediaType

#: Arrays and objects inside each other, counting the outermost. Conveyor's own bodies nest 4 deep at most.
MAX_DEPTH = 64
#: Characters in one JSON number literal: far above int8 (19 digits) and a double's 17 significant digits,
#: far below Python's 4,300-digit int conversion limit.
MAX_NUMBER_CHARS = 50
#: At most this many offending fields are listed in `details`.
MAX_REPORTED = 20
#: Routes that read their body as raw bytes (a signature covers them), whatever its media type.
RAW_BODY_ROUTES: frozenset[tuple[str, str]] = frozenset({("POST", "/v1/payments/webhook")})
JSON_MEDIA_TYPE = "application/json"

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# A JSON text can only hold U+0000 or a surrogate as a \u escape (raw control characters are invalid JSON, and a
# text decoded from UTF-8 has no surrogates): without one of these no string needs looking at.
_UNSTORABLE_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKETS = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


class _NumberRefused(Exception):
    def __init__(self, literal: str, reason: str) -> None:
        super().__init__(reason)
        self.literal, self.reason = literal, reason


# --- strings ------------------------------------------------------------------------------------------------------


def unstorable(value: str) -> str | None:
    """Why `value` cannot be stored (None if it can)."""
    found = _UNSTORABLE.search(value)
    if found is None:
        return None
    return "contains U+0000 (NUL)" if found.group() == "\x00" else "contains a lone UTF-16 surrogate"


def _problem(field: str, why: str) -> dict[str, Any]:
    return {"field": field, "type": "string_unstorable", "message": f"The text {why}, which cannot be stored."}


def _refuse(problems: list[dict[str, Any]]) -> None:
    if problems:
        raise InvalidInput(
            "The request has text that cannot be stored.", code="validation_failed", details=problems[:MAX_REPORTED]
        )


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """Every string in a decoded JSON value, keys included, with its dotted path (as validation errors name them)."""
    stack = [(path, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            yield where, item
        elif isinstance(item, dict):
            for key, child in item.items():
                yield f"{where}.{key}", key
                stack.append((f"{where}.{key}", child))
        elif isinstance(item, list):
            stack.extend((f"{where}.{i}", child) for i, child in enumerate(item))


# --- the JSON body ------------------------------------------------------------------------------------------------


def json_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in a JSON text, without parsing it (strings are skipped)."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return 0  # cannot be too deep: not worth measuring
    brackets = _BRACKETS.sub("", _JSON_STRING.sub("", text))
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def _parse_int(literal: str) -> int:
    if len(literal) > MAX_NUMBER_CHARS:
        raise _NumberRefused(literal, f"has more than {MAX_NUMBER_CHARS} characters")
    return int(literal)


def _parse_float(literal: str) -> float:
    if len(literal) > MAX_NUMBER_CHARS:
        raise _NumberRefused(literal, f"has more than {MAX_NUMBER_CHARS} characters")
    value = float(literal)
    if not math.isfinite(value):
        raise _NumberRefused(literal, "is out of range")
    return value


def _parse_constant(literal: str) -> float:
    raise _NumberRefused(literal, "is not JSON (NaN and Infinity are not numbers in JSON)")


def _malformed(message: str, details: Any = None) -> BadRequest:
    return BadRequest(message, code="malformed_json", details=details)


def load_json(text: str) -> Any:
    """The request body as JSON, within Conveyor's limits (the resolver's `json_body_deserializer`)."""
    depth = json_depth(text)
    if depth > MAX_DEPTH:
        raise _malformed(
            f"The JSON body nests arrays and objects {depth} deep; at most {MAX_DEPTH} are allowed.",
            {"max_depth": MAX_DEPTH},
        )
    try:
        value = json.loads(text, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant)
    except _NumberRefused as exc:
        shown = exc.literal if len(exc.literal) <= 20 else exc.literal[:20] + "…"
        raise _malformed(
            f"A number in the JSON body {exc.reason}: {shown}", {"max_number_chars": MAX_NUMBER_CHARS}
        ) from None
    except RecursionError:  # cannot happen below MAX_DEPTH; kept so no JSON text can ever be a 500
        raise _malformed(f"The JSON body nests too deep; at most {MAX_DEPTH} are allowed.") from None
    if _UNSTORABLE_ESCAPE.search(text):
        _refuse([_problem(where, why) for where, s in _strings(value, "body") if (why := unstorable(s))])
    return value


# --- the rest of the request, before routing -------------------------------------------------------------------


def media_type(headers: Mapping[str, Any] | None) -> str | None:
    for name, value in (headers or {}).items():
        if name.lower() == "content-type" and isinstance(value, str):
            return value.split(";", 1)[0].strip().lower() or None
    return None


def check(event: Mapping[str, Any]) -> None:
    """Refuse what no route may receive: a non-JSON body, unstorable text in the path, query string or headers.

    A request with a body and no Content-Type is read as JSON (API Gateway passes the body as sent; clients that
    send none are mostly scripts sending JSON). `curl -d` sends `application/x-www-form-urlencoded`: 415.
    """
    method, path = str(event.get("httpMethod") or "GET").upper(), str(event.get("path") or "/")
    kind = media_type(event.get("headers"))
    if event.get("body") and kind not in (None, JSON_MEDIA_TYPE) and (method, path.rstrip("/")) not in RAW_BODY_ROUTES:
        raise UnsupportedMediaType(
            f"Request bodies are JSON: send Content-Type: {JSON_MEDIA_TYPE}.",
            details={"content_type": kind, "accepted": [JSON_MEDIA_TYPE]},
        )
    problems: list[dict[str, Any]] = []
    if why := unstorable(path):
        problems.append(_problem("path", why))
    for where, key in (("query", "multiValueQueryStringParameters"), ("header", "multiValueHeaders")):
        for name, values in (event.get(key) or {}).items():
            for value in [name, *(values or [])]:
                if isinstance(value, str) and (why := unstorable(value)):
                    problems.append(_problem(f"{where}.{name}", why))
    for where, key in (("query", "queryStringParameters"), ("header", "headers"), ("path", "pathParameters")):
        for name, value in (event.get(key) or {}).items():
            for text in (name, value):
                if isinstance(text, str) and (why := unstorable(text)):
                    problems.append(_problem(f"{where}.{name}", why))
    _refuse(list({p["field"]: p for p in problems}.values()))


class GuardedResolver(APIGatewayRestResolver):
    """Powertools' REST resolver with `check` before routing and `load_json` as its body parser."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(json_body_deserializer=load_json, **kwargs)

        @self.exception_handler(RequestUnsupportedContentType)
        def _unsupported(exc: RequestUnsupportedContentType) -> Response:
            # A media type `check` let through that Powertools cannot read (e.g. `Application/JSON`).
            return errors.error_response(415, "unsupported_media_type", f"Request bodies are {JSON_MEDIA_TYPE}.")

    def resolve(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        try:
            check(event)
        except ConveyorError as exc:
            return errors.proxy_error(exc, (event.get("requestContext") or {}).get("requestId"))
        return super().resolve(event, context)
