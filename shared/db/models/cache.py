"""Cached responses of remote APIs, served fresh until fresh_until and as a fallback until stale_until."""

# No `from __future__ import annotations` here: SQLAlchemy would then evaluate every `Mapped[...]` string while
# mapping the class, ~10 % of the models' import, which every function pays on each cold start.

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, UUIDPk
from shared.db.models._common import fk


class CacheEntry(UUIDPk, Base):
    """Keyed by (namespace, cache_key, user); user NULL is a shared entry, and counts as one value for uniqueness."""

    __tablename__ = "cache_entries"

    user_id: Mapped[uuid.UUID | None] = fk("users.id", "CASCADE")
    namespace: Mapped[str]
    cache_key: Mapped[str] = mapped_column(Text)
    data: Mapped[Any] = mapped_column(JSONB)
    cached_at: Mapped[datetime] = mapped_column(server_default=func.now())
    fresh_until: Mapped[datetime]
    stale_until: Mapped[datetime]

    __table_args__ = (
        Index(
            "uq_cache_entries_namespace_cache_key_user_id",
            "namespace",
            "cache_key",
            "user_id",
            unique=True,
            postgresql_nulls_not_distinct=True,
        ),
        Index(None, "stale_until"),
        Index(None, "user_id", postgresql_where=text("user_id IS NOT NULL")),
    )
