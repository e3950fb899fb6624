"""The publisher interface. A deployment adds a platform by writing one module with one class and registering it.

    @register("myplatform")
    class MyPlatform(Publisher):
        def publish(self, item: ItemSnapshot) -> PublishResult: ...
        def sell(self, item: ItemSnapshot, price_cents: int, currency: str) -> SaleResult: ...

Implementations raise `PublishRejected` for permanent refusals (the item fails, no retry) and any other exception
for transient trouble (the job engine retries with backoff); `PublishAttemptFailed` is the transient error whose
message is safe to show the user (other exceptions are shown by class only). They must be idempotent on
`item.idempotency_key`: a retried job sends the same key, so a platform that supports it never creates the item
(or sells it) twice. `sell` sees the sale in `item.sale` (queue entry, preset).

`self.cache` is the owner's cache (shared/automations/cache.py: TTL entries per user and namespace, stale
fallback), for remote listings such as a gallery's folders: `self.cache.get_or_refresh("gallery", "folders",
load)`, or `get` / `put` / `invalidate`. The user clears a namespace with `DELETE /v1/cache/<namespace>`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shared.automations.cache import UserCache
from shared.jobs.errors import RetryableError


@dataclass(frozen=True)
class FileLink:
    media_id: uuid.UUID
    url: str  # presigned GET, valid for a few minutes
    content_type: str | None
    filename: str | None
    width: int | None = None
    height: int | None = None
    duration_ms: int | None = None


@dataclass(frozen=True)
class SaleContext:
    """The sale a `sell` call is for: the sale-queue entry (its id is in the idempotency key) and its preset."""

    entry_id: uuid.UUID
    preset_id: uuid.UUID
    preset_name: str


@dataclass(frozen=True)
class ItemSnapshot:
    """What a publisher sees of an item: its fields, its files as download links, and a stable idempotency key."""

    id: uuid.UUID
    user_id: uuid.UUID
    title: str
    description: str | None
    tags: list[str]
    category_path: str | None
    settings: dict[str, Any]
    files: list[FileLink]
    idempotency_key: str
    remote_id: str | None = None
    sale: SaleContext | None = None


@dataclass(frozen=True)
class PublishResult:
    remote_id: str
    remote_url: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SaleResult:
    """`ok` false is a declined sale (final); `reason` is the platform's word for it, `proof_url` its evidence."""

    ok: bool
    details: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None
    proof_url: str | None = None


class PublishRejected(Exception):
    """The platform refused the item for good (invalid content, forbidden): fail it without retrying."""


class PublishAttemptFailed(RetryableError):
    """A transient failure with a message safe to show (no exception text): the job retries with backoff."""


class Publisher:
    """One configured destination (a `publishers` row): endpoint, credential, settings."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config

    @property
    def cache(self) -> UserCache:
        """The cache of this publisher's owner (`config["user_id"]`): entries no other user reads or clears."""
        return UserCache(self.config["user_id"])

    def publish(self, item: ItemSnapshot) -> PublishResult:
        raise NotImplementedError

    def sell(self, item: ItemSnapshot, price_cents: int, currency: str) -> SaleResult:
        raise NotImplementedError


_registry: dict[str, type[Publisher]] = {}


def use(publishers: dict[str, type[Publisher]]) -> None:
    """Offer these publisher classes by kind (a function's composition root calls it; nothing registers itself)."""
    _registry.update(publishers)


def register(kind: str) -> Callable[[type[Publisher]], type[Publisher]]:
    """Decorator form of `use`, for a deployment's own module that its composition root imports (and tests)."""

    def add(cls: type[Publisher]) -> type[Publisher]:
        use({kind: cls})
        return cls

    return add


def publisher_class(kind: str) -> type[Publisher] | None:
    return _registry.get(kind)
