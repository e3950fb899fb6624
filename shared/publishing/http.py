"""The built-in `webhook` publisher: POST the item to the user's own endpoint, signed like job webhooks.

The receiver (the user's bridge to their platform) gets JSON `{item fields, files: [{url, ...}], idempotency_key}`
with the Standard Webhooks headers (`webhook-id` is the idempotency key, so it is the same on every retry), signed
with the user's webhook signing secret, plus an `Idempotency-Key` header. It answers 2xx with JSON
`{"id": remote_id, "url": remote_url}`. A 4xx other than 408/429 is a refusal for good (PublishRejected); anything
else (5xx, 408/429, timeouts, connection trouble, an unreadable 2xx) is transient and the job retries.

The URL guard runs again before every attempt and the connection goes to the addresses it checked (DNS rebinding),
exactly as for job webhooks: the code is shared/outbound.py's.
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
from shared.jobs.errors import RetryableError
from shared.publishing.base import ItemSnapshot, Publisher, PublishRejected, PublishResult

KIND = "webhook"
EVENT = "item.publish"


class PublishAttemptFailed(RetryableError):
    """A transient failure: the publish job retries it with backoff (same idempotency key)."""


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
        try:
            checked = outbound.check_webhook_url(self.config["endpoint_url"] or "")
        except outbound.UnresolvableHost as exc:
            raise PublishAttemptFailed("the publisher endpoint's host did not resolve") from exc
        except outbound.WebhookUrlRefused as exc:
            raise PublishRejected(f"the publisher endpoint is not allowed: {exc.message}") from None

        body = json.dumps(payload(item), separators=(",", ":"), sort_keys=True)
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
            return _parse(snippet)
        text = snippet.decode("utf-8", "replace").strip()[:200]
        message = f"HTTP {status}" + (f": {text}" if text else "")
        if 400 <= status < 500 and status not in webhooks.RETRYABLE_4XX:
            raise PublishRejected(f"the endpoint refused the item: {message}")
        raise PublishAttemptFailed(message)
