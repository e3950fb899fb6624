"""The built-in `webhook` publisher: POST the item to the user's own endpoint, signed like job webhooks.

The receiver (the user's bridge to their platform) gets JSON `{item fields, files: [{url, ...}], idempotency_key}`
with the Standard Webhooks headers (`webhook-id` is the idempotency key, so it is the same on every retry), signed
with the user's webhook signing secret, plus an `Idempotency-Key` header. It answers 2xx with JSON
`{"id": remote_id, "url": remote_url}`. A 4xx other than 408/429 is a refusal for good (PublishRejected); anything
else (5xx, 408/429, timeouts, connection trouble, an unreadable 2xx) is transient and the job retries.

The URL guard runs again before every attempt and the connection goes to the addresses it checked (DNS rebinding),
exactly as for job webhooks: the code is shared/outbound.py's.

Sales (`sell`) go to the same endpoint, the same way: JSON `{"type": "item.sale", "idempotency_key": "sale:<entry
id>", "item": {id, remote_id, title, remote_url}, "sale": {entry_id, price_cents, currency, preset: {id, name}}}`,
`webhook-id` = `Idempotency-Key` = the idempotency key, identical on every retry and redelivery of that sale. The
receiver answers 2xx with JSON `{"status": "completed" | "failed", "reason"?: str, "screenshot_url"?: str}`:
`completed` sells (`screenshot_url`, an https URL of at most 2,048 characters, is recorded as the entry's proof;
Conveyor does not fetch it), `failed` declines for good with the receiver's `reason`. Status codes and transport
errors are judged as for publishing; a 2xx without a readable `status` is transient (the retry is safe: same key).
"""

from __future__ import annotations

import http.client
import json
import urllib.error
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from shared import outbound, webhooks
from shared.identity import vault
from shared.publishing.base import (
    ItemSnapshot,
    PublishAttemptFailed,
    Publisher,
    PublishRejected,
    PublishResult,
    SaleResult,
)

KIND = "webhook"
EVENT = "item.publish"
SALE_EVENT = "item.sale"
MAX_REASON_CHARS = 500

__all__ = ["EVENT", "KIND", "SALE_EVENT", "PublishAttemptFailed", "WebhookPublisher", "payload", "sale_payload"]


def payload(item: ItemSnapshot) -> dict[str, Any]:
    """The JSON body: everything the receiver needs, with presigned file URLs; ids as strings."""
    files = [{k: (str(v) if k == "media_id" else v) for k, v in asdict(f).items()} for f in item.files]
    return {
        "type": EVENT,
        "idempotency_key": item.idempotency_key,
        "item": {
            "id": str(item.id),
            "title": item.title,
            "description": item.description,
            "tags": list(item.tags),
            "category_path": item.category_path,
            "settings": item.settings,
            "files": files,
        },
    }


def sale_payload(item: ItemSnapshot, price_cents: int, currency: str) -> dict[str, Any]:
    """The `item.sale` body: which item (ours and the platform's id), at what price, for which queue entry."""
    sale = item.sale
    return {
        "type": SALE_EVENT,
        "idempotency_key": item.idempotency_key,
        "item": {
            "id": str(item.id),
            "remote_id": item.remote_id,
            "title": item.title,
            "remote_url": item.settings.get("remote_url"),
        },
        "sale": {
            "entry_id": str(sale.entry_id) if sale else None,
            "price_cents": price_cents,
            "currency": currency,
            "preset": {"id": str(sale.preset_id), "name": sale.preset_name} if sale else None,
        },
    }


def _parse_sale(snippet: bytes) -> SaleResult:
    try:
        data = json.loads(snippet)
        status = data["status"]
    except (ValueError, TypeError, KeyError) as exc:
        raise PublishAttemptFailed('the endpoint answered 2xx without a JSON {"status": ...}') from exc
    if status == "completed":
        proof = data.get("screenshot_url")
        usable = isinstance(proof, str) and proof.startswith("https://") and len(proof) <= outbound.MAX_URL_CHARS
        return SaleResult(ok=True, details={"status": status}, proof_url=proof if usable else None)
    if status == "failed":
        reason = data.get("reason")
        text = reason.strip()[:MAX_REASON_CHARS] if isinstance(reason, str) and reason.strip() else None
        return SaleResult(ok=False, details={"status": status}, reason=text)
    raise PublishAttemptFailed('the endpoint answered 2xx with a "status" other than "completed" or "failed"')


def _parse(snippet: bytes) -> PublishResult:
    try:
        data = json.loads(snippet)
        remote_id = data["id"]
    except (ValueError, TypeError, KeyError) as exc:
        raise PublishAttemptFailed('the endpoint answered 2xx without a JSON {"id": ...}') from exc
    if not isinstance(remote_id, str | int) or isinstance(remote_id, bool) or not str(remote_id):
        raise PublishAttemptFailed("the endpoint answered 2xx with an unusable id")
    url = data.get("url")
    return PublishResult(remote_id=str(remote_id), remote_url=url if isinstance(url, str) else None)


class WebhookPublisher(Publisher):
    """config: user_id (whose signing secret signs), endpoint_url."""

    #: The HTTP call (a seam for tests): outbound.post reads the first 512 bytes of the answer.
    send: Callable[..., tuple[int, bytes]] = staticmethod(outbound.post)

    def publish(self, item: ItemSnapshot) -> PublishResult:
        return _parse(self._send(item, payload(item), "item"))

    def sell(self, item: ItemSnapshot, price_cents: int, currency: str) -> SaleResult:
        return _parse_sale(self._send(item, sale_payload(item, price_cents, currency), "sale"))

    def _send(self, item: ItemSnapshot, body_data: dict[str, Any], what: str) -> bytes:
        """One signed POST to the endpoint; the first bytes of a 2xx answer, or the exception that judges it."""
        try:
            checked = outbound.check_webhook_url(self.config["endpoint_url"] or "")
        except outbound.UnresolvableHost as exc:
            raise PublishAttemptFailed("the publisher endpoint's host did not resolve") from exc
        except outbound.WebhookUrlRefused as exc:
            raise PublishRejected(f"the publisher endpoint is not allowed: {exc.message}") from None

        body = json.dumps(body_data, separators=(",", ":"), sort_keys=True)
        try:
            headers = webhooks.signed_headers(webhooks.signing_secret(item.user_id), item.idempotency_key, body)
        except (vault.VaultError, ValueError, TypeError) as exc:
            raise PublishRejected("the webhook signing secret is unusable; rotate it") from exc
        headers["Idempotency-Key"] = item.idempotency_key
        try:
            status, snippet = type(self).send(checked, body.encode(), headers, timeout=outbound.TIMEOUT_S)
        except TimeoutError as exc:
            raise PublishAttemptFailed(f"timed out after {outbound.TIMEOUT_S:g} s") from exc
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            raise PublishAttemptFailed(f"connection failed: {type(exc).__name__}") from exc

        if 200 <= status < 300:
            return snippet
        text = snippet.decode("utf-8", "replace").strip()[:200]
        message = f"HTTP {status}" + (f": {text}" if text else "")
        if 400 <= status < 500 and status not in webhooks.RETRYABLE_4XX:
            raise PublishRejected(f"the endpoint refused the {what}: {message}")
        raise PublishAttemptFailed(message)
