"""A sale completing through the laptop stack: publish-now over HTTP → the webhook publisher publishes → the item is
queued for sale → `sale.process` sends a signed `item.sale` to a local receiver → the entry is `completed`.

The receiver listens on 127.0.0.1, which the laptop stack allow-lists for outbound calls (local/stack.py sets
CONVEYOR_WEBHOOK_ALLOWED_HOSTS to loopback unless the developer set it).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
import requests
from standardwebhooks.webhooks import Webhook

from tests.e2e.harness import RunningStack
from tests.e2e.test_local_stack import _upload
from tests.support.http import local_server, read_body, reply
from tests.support.media import png

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

WAIT_S = 40


def test_a_sale_completes_through_the_webhook_publisher(local_stack: RunningStack) -> None:
    api = local_stack.api_url
    headers = {"Authorization": f"Bearer {local_stack.admin_key}"}
    seen: list[dict[str, Any]] = []
    bad_signatures: list[str] = []
    secret: dict[str, str] = {}
    lock = threading.Lock()

    def handle(request: BaseHTTPRequestHandler) -> None:
        raw = read_body(request)
        try:
            body = Webhook(secret["value"]).verify(raw, {k.lower(): v for k, v in request.headers.items()})
        except Exception as exc:
            bad_signatures.append(type(exc).__name__)
            body = json.loads(raw)
        with lock:
            seen.append(body)
        if body["type"] == "item.publish":
            answer = {"id": f"post-{body['item']['id']}", "url": "https://shop.example/post"}
        else:
            answer = {"status": "completed", "screenshot_url": "https://shop.example/proof.png"}
        reply(request, 200, json.dumps(answer).encode(), {"Content-Type": "application/json"})

    with local_server(handle) as base:
        # Given: a signing secret, a webhook publisher at the receiver, a preset and an automation that sells
        rotated = requests.post(f"{api}/v1/webhooks/secret", headers=headers, timeout=10)
        assert rotated.status_code in (200, 201), rotated.text
        secret["value"] = rotated.json()["secret"]
        publisher = requests.post(
            f"{api}/v1/publishers",
            json={"kind": "webhook", "name": "e2e shop", "endpoint_url": f"{base}/conveyor"},
            headers=headers,
            timeout=10,
        )
        assert publisher.status_code == 201, publisher.text
        preset = requests.post(
            f"{api}/v1/price-presets",
            json={"name": "e2e", "price_cents": 1999, "currency": "EUR"},
            headers=headers,
            timeout=10,
        )
        assert preset.status_code == 201, preset.text
        automation = requests.post(
            f"{api}/v1/automations",
            json={
                "name": "e2e sales",
                "enabled": False,
                "rules": [],
                "auto_add_to_sale_queue": True,
                "sale_queue_preset_id": preset.json()["id"],
            },
            headers=headers,
            timeout=10,
        )
        assert automation.status_code == 201, automation.text
        media = _upload(local_stack, "sale.png", "image/png", png((64, 64)))
        assert media["status"] == "ready", media
        item = requests.post(
            f"{api}/v1/items",
            json={
                "title": "for sale",
                "publisher_id": publisher.json()["id"],
                "automation_id": automation.json()["id"],
            },
            headers=headers,
            timeout=10,
        )
        assert item.status_code == 201, item.text
        item_id = item.json()["id"]
        added = requests.post(
            f"{api}/v1/items/{item_id}/files", json={"media_id": media["id"]}, headers=headers, timeout=10
        )
        assert added.status_code in (200, 201), added.text

        # When: it is published now
        started = requests.post(f"{api}/v1/items/{item_id}/publish-now", headers=headers, timeout=10)
        assert started.status_code == 202, started.text

        # Then: the sale-queue entry for the item completes
        deadline = time.monotonic() + WAIT_S
        entry: dict[str, Any] | None = None
        while time.monotonic() < deadline:
            listed = requests.get(f"{api}/v1/sale-queue", headers=headers, timeout=10).json()["items"]
            entry = next((e for e in listed if e["item_id"] == item_id), None)
            if entry is not None and entry["status"] in ("completed", "failed", "skipped"):
                break
            time.sleep(0.3)
        assert entry is not None, local_stack.output.tail()
        assert entry["status"] == "completed", (entry, local_stack.output.tail())

    # And: the receiver got one signed publish and one signed sale with the preset's price
    assert bad_signatures == []
    sales = [b for b in seen if b["type"] == "item.sale"]
    assert len(sales) == 1
    assert sales[0]["idempotency_key"] == f"sale:{entry['id']}"
    assert sales[0]["item"]["id"] == item_id
    assert sales[0]["item"]["remote_id"] == f"post-{item_id}"
    assert (sales[0]["sale"]["price_cents"], sales[0]["sale"]["currency"]) == (1999, "EUR")
    assert sales[0]["sale"]["preset"]["id"] == preset.json()["id"]
    assert entry["attempts"] == 1
