"""Publishers: a user's configured destinations (the `publishers` table) and how an item finds its publisher.

The `kind` column is constrained to `PublisherKind`; `webhook` is built in (shared/publishing/http.py). A
deployment's own platform client registers a class with `@register(<kind>)`: either under a `PublisherKind`
value (e.g. `deviantart`) or under any name used as `settings.plugin` of a `custom` publisher. A kind without a
registered class cannot be configured, so nothing is accepted that could never publish.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.db.enums import PublisherKind
from shared.db.models import Credential
from shared.db.models import Publisher as PublisherRow
from shared.db.session import session, unit_of_work
from shared.errors import InvalidInput, NotFound
from shared.outbound import check_webhook_url
from shared.publishing.base import Publisher, publisher_class

MAX_PUBLISHERS = 100
UNSET: Any = object()


def class_name(kind: str, settings: dict[str, Any] | None) -> str:
    """The registry name a row resolves to: its kind, or `settings.plugin` for a `custom` row (else `custom`)."""
    if kind == PublisherKind.CUSTOM.value:
        return str((settings or {}).get("plugin") or kind)
    return kind


def instantiate(row: PublisherRow) -> Publisher:
    """The implementation object for one configured row; its `config` carries what the row says (no secrets)."""
    cls = publisher_class(class_name(row.kind, row.settings))
    if cls is None:
        raise InvalidInput("This publisher's kind is not available in this deployment.", details={"kind": row.kind})
    return cls(
        {
            "id": row.id,
            "user_id": row.user_id,
            "kind": row.kind,
            "name": row.name,
            "endpoint_url": row.endpoint_url,
            "credential_id": row.credential_id,
            "settings": dict(row.settings or {}),
        }
    )


def _check(
    s: Session,
    user_id: uuid.UUID,
    kind: str,
    *,
    endpoint_url: str | None,
    credential_id: uuid.UUID | None,
    settings: dict[str, Any],
) -> None:
    """Refuse (422) a configuration that could never publish: unknown kind, missing or unsafe URL, foreign key."""
    if kind not in {k.value for k in PublisherKind}:
        raise InvalidInput("Unknown publisher kind.", details={"kind": kind, "known": [k.value for k in PublisherKind]})
    if publisher_class(class_name(kind, settings)) is None:
        raise InvalidInput(
            "No publisher of this kind is installed in this deployment.",
            code="publisher_kind_unavailable",
            details={"kind": kind, "plugin": settings.get("plugin")},
        )
    if kind == PublisherKind.WEBHOOK.value and not endpoint_url:
        raise InvalidInput("A webhook publisher needs an endpoint_url.", details={"field": "endpoint_url"})
    if endpoint_url:
        check_webhook_url(endpoint_url)  # same guard as job webhooks: https, public addresses only
    if credential_id is not None and (
        s.scalar(select(Credential.id).where(Credential.id == credential_id, Credential.user_id == user_id)) is None
    ):
        raise NotFound("No such credential.")


def create_publisher(
    user_id: uuid.UUID,
    *,
    kind: str,
    name: str,
    endpoint_url: str | None = None,
    credential_id: uuid.UUID | None = None,
    settings: dict[str, Any] | None = None,
    enabled: bool = True,
) -> PublisherRow:
    settings = settings or {}
    with session() as s:
        _check(s, user_id, kind, endpoint_url=endpoint_url, credential_id=credential_id, settings=settings)
        count = len(s.scalars(select(PublisherRow.id).where(PublisherRow.user_id == user_id)).all())
        if count >= MAX_PUBLISHERS:
            raise InvalidInput(f"At most {MAX_PUBLISHERS} publishers per user.", code="too_many_publishers")
        row = PublisherRow(
            user_id=user_id,
            kind=kind,
            name=name,
            endpoint_url=endpoint_url,
            credential_id=credential_id,
            settings=settings,
            enabled=enabled,
        )
        s.add(row)
        s.flush()
        s.refresh(row)
        return row


def _owned(s: Session, user_id: uuid.UUID, publisher_id: uuid.UUID, *, lock: bool = False) -> PublisherRow:
    query = select(PublisherRow).where(PublisherRow.id == publisher_id, PublisherRow.user_id == user_id)
    row = s.scalar(query.with_for_update() if lock else query)
    if row is None:
        raise NotFound("No such publisher.")
    return row


def list_publishers(user_id: uuid.UUID) -> list[PublisherRow]:
    """Oldest first: the first enabled one is the user's default publisher."""
    with session() as s:
        query = select(PublisherRow).where(PublisherRow.user_id == user_id)
        return list(s.scalars(query.order_by(PublisherRow.created_at, PublisherRow.id)))


def get_publisher(s: Session | None, user_id: uuid.UUID, publisher_id: uuid.UUID | None = None) -> PublisherRow:
    """The publisher an item goes to: the named one (the caller's, enabled or not), else the user's first enabled.

    Raises NotFound when the named one is not the caller's or when the user has no enabled publisher.
    """
    with unit_of_work(s) as tx:
        if publisher_id is not None:
            return _owned(tx, user_id, publisher_id)
        row = tx.scalar(
            select(PublisherRow)
            .where(PublisherRow.user_id == user_id, PublisherRow.enabled)
            .order_by(PublisherRow.created_at, PublisherRow.id)
            .limit(1)
        )
        if row is None:
            raise NotFound("No enabled publisher is configured.", code="no_publisher")
        return row


def update_publisher(
    user_id: uuid.UUID,
    publisher_id: uuid.UUID,
    *,
    name: Any = UNSET,
    endpoint_url: Any = UNSET,
    credential_id: Any = UNSET,
    settings: Any = UNSET,
    enabled: Any = UNSET,
) -> PublisherRow:
    """Change what was given (UNSET leaves a field); the result is checked as a whole, like a new publisher."""
    with session() as s:
        row = _owned(s, user_id, publisher_id, lock=True)
        changes = {
            k: v
            for k, v in {
                "name": name,
                "endpoint_url": endpoint_url,
                "credential_id": credential_id,
                "settings": settings,
                "enabled": enabled,
            }.items()
            if v is not UNSET
        }
        merged = {
            "endpoint_url": row.endpoint_url,
            "credential_id": row.credential_id,
            "settings": row.settings or {},
        } | {k: v for k, v in changes.items() if k in {"endpoint_url", "credential_id", "settings"}}
        if merged["settings"] is None:
            merged["settings"] = changes["settings"] = {}
        _check(
            s,
            user_id,
            row.kind,
            endpoint_url=merged["endpoint_url"],
            credential_id=merged["credential_id"],
            settings=merged["settings"],
        )
        for key, value in changes.items():
            setattr(row, key, value)
        s.flush()
        s.refresh(row)
        return row


def delete_publisher(user_id: uuid.UUID, publisher_id: uuid.UUID) -> None:
    """Items that named it fall back to the user's default publisher (the FK is SET NULL)."""
    with session() as s:
        s.delete(_owned(s, user_id, publisher_id, lock=True))
