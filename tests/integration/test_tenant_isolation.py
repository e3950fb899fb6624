"""Tenant isolation, proved for every API route that takes an id.

The routes are read from the resolver itself, so a new route is covered the moment it is added: if its id
parameter has no factory below, or its body cannot pass validation, this test fails and says what to add.
Another user's id must answer exactly what an id that does not exist answers: 404, never 403, never the data.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.users import TestUser


def _sale_entry(owner: TestUser) -> str:
    from tests.integration.test_sales import preset_row, published_item, queue

    entry = queue(published_item(owner.id, preset_row(owner.id).id))
    assert entry is not None
    return str(entry.id)


_EMAIL = {"to": ["a@example.com"], "subject": "s", "text": "t"}


def _cache_namespace(owner: TestUser) -> str:
    from shared.automations import cache

    cache.put("gallery", "folders", ["mine"], user_id=owner.id)
    return "gallery"


def _job(owner: TestUser) -> str:
    body = {"type": "email.send", "payload": _EMAIL}
    return owner.client.post("/v1/jobs", json_body=body).json["id"]


# How to make a resource of each kind that belongs to `owner`; returns its id.
OWNED: dict[str, Callable[[TestUser], str]] = {
    "job_id": _job,
    "item_id": lambda owner: owner.client.post("/v1/items", json_body={"title": "mine"}).json["id"],
    "publisher_id": lambda owner: owner.client.post(
        "/v1/publishers", json_body={"kind": "webhook", "name": "mine", "endpoint_url": "https://93.184.215.14/hook"}
    ).json["id"],
    "automation_id": lambda owner: owner.client.post(
        "/v1/automations",
        json_body={
            "name": "mine",
            "enabled": False,
            "rules": [{"type": "fixed_interval", "interval_minutes": 60, "items_per_interval": 1}],
        },
    ).json["id"],
    "preset_id": lambda owner: owner.client.post(
        "/v1/price-presets", json_body={"name": "mine", "price_cents": 1}
    ).json["id"],
    "entry_id": _sale_entry,
    "namespace": _cache_namespace,  # DELETE /v1/cache/<namespace>: the intruder's own (empty) namespace is 404
    "media_id": lambda owner: owner.client.post(
        "/v1/media", json_body={"filename": "mine.png", "content_type": "image/png", "size": 10}
    ).json["media"]["id"],
    "schedule_id": lambda owner: owner.client.post(
        "/v1/schedules",
        json_body={"name": "mine", "job_type": "email.send", "payload": _EMAIL, "interval_seconds": 3600},
    ).json["id"],
    "key_id": lambda owner: owner.client.post("/v1/api-keys", json_body={"name": "mine"}).json["id"],
    "project_id": lambda owner: owner.client.post("/v1/projects", json_body={"name": "mine"}).json["id"],
    "credential_id": lambda owner: owner.client.post(
        "/v1/credentials", json_body={"provider": "openai", "label": "mine", "secret": "sk-secret-value-1234"}
    ).json["id"],
    "template_id": lambda owner: owner.client.post(
        "/v1/templates", json_body={"type": "tag", "name": "mine", "content": {"tags": ["mine"]}}
    ).json["id"],
}

# A valid body for routes that need one, so the request reaches the ownership check instead of validation.
BODIES: dict[tuple[str, str], Any] = {
    ("PATCH", "/v1/projects/<project_id>"): {"name": "taken over"},
    ("PATCH", "/v1/credentials/<credential_id>"): {"label": "taken over"},
    ("PATCH", "/v1/schedules/<schedule_id>"): {"name": "taken over"},
    ("PATCH", "/v1/items/<item_id>"): {"title": "taken over"},
    ("POST", "/v1/items/<item_id>/files"): {"media_id": "00000000-0000-4000-8000-000000000000"},
    ("POST", "/v1/items/<item_id>/schedule"): {"scheduled_at": "2099-01-01T00:00:00Z"},
    ("PATCH", "/v1/publishers/<publisher_id>"): {"name": "taken over"},
    ("PATCH", "/v1/automations/<automation_id>"): {"name": "taken over"},
    ("PATCH", "/v1/price-presets/<preset_id>"): {"name": "taken over"},
    ("PATCH", "/v1/templates/<template_id>"): {"name": "taken over"},
    ("POST", "/v1/items/<item_id>/apply-template"): {"template_id": "00000000-0000-4000-8000-000000000000"},
}

# Admins act on other users' resources through these on purpose (members get 403 there).
ADMIN_PREFIX = "/v1/admin/"


def id_routes() -> list[tuple[str, str]]:
    from functions.api.handler import app

    routes = app._dynamic_routes + app._static_routes
    return sorted((r.method, r.path) for r in routes if "<" in r.path and not r.path.startswith(ADMIN_PREFIX))


def test_the_walk_finds_the_id_routes() -> None:
    assert ("DELETE", "/v1/api-keys/<key_id>") in id_routes()


@pytest.mark.parametrize(("method", "rule"), id_routes())
def test_another_users_id_is_not_found(  # type: ignore[no-untyped-def]
    aws_env, make_user, method: str, rule: str
) -> None:
    owner, intruder = make_user(), make_user()
    params = re.findall(r"<(\w+)>", rule)
    missing = [p for p in params if p not in OWNED]
    assert not missing, f"add a factory for {missing} to OWNED so {method} {rule} is covered"
    owned = {p: OWNED[p](owner) for p in params}
    body = BODIES.get((method, rule), {} if method in ("POST", "PUT", "PATCH") else None)

    def call(who: TestUser, ids: dict[str, str]):  # type: ignore[no-untyped-def]
        return who.client.request(method, _fill(rule, ids), json_body=body)

    stolen = call(intruder, owned)
    nonexistent = call(intruder, {p: str(uuid.uuid4()) for p in params})

    assert nonexistent.status != 422, f"add a valid body for {method} {rule} to BODIES"
    assert stolen.status == 404, (method, rule, stolen.status, stolen.body)
    assert stolen.json == nonexistent.json
    for value in owned.values():
        assert value not in stolen.body.decode()
    # And the owner still has it, untouched: read back through the nearest GET of the resource, if there is one.
    reader = _nearest_get(rule)
    if reader is not None:
        assert owner.client.get(_fill(reader, owned)).status == 200
    else:
        assert call(owner, owned).status < 400  # the owner can still act on it: it was there


def _nearest_get(rule: str) -> str | None:
    gets = [r for m, r in id_routes() if m == "GET" and (rule == r or rule.startswith(r + "/"))]
    return max(gets, key=len) if gets else None


def _fill(rule: str, ids: dict[str, str]) -> str:
    for name, value in ids.items():
        rule = rule.replace(f"<{name}>", value)
    return rule
