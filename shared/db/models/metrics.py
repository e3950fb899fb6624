"""Application metrics recorded by jobs and services (seed 000), queried per user and name over time."""

# No `from __future__ import annotations` here: SQLAlchemy would then evaluate every `Mapped[...]` string while
# mapping the class, ~10 % of the models' import, which every function pays on each cold start.

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Index, Numeric, func
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, UUIDPk
from shared.db.models._common import fk


class Metric(UUIDPk, Base):
    __tablename__ = "metrics"

    user_id: Mapped[uuid.UUID | None] = fk("users.id", "CASCADE")
    reference: Mapped[str]
    name: Mapped[str]
    start: Mapped[Decimal | None] = mapped_column(Numeric(20, 4))
    value: Mapped[Decimal] = mapped_column(Numeric(20, 4))
    label: Mapped[str | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())

    __table_args__ = (
        Index(None, "user_id", "name", "created_at"),
        # GET /v1/metrics/raw: one user's rows in keyset order (created_at, id), whatever the filters.
        Index(None, "user_id", "created_at", "id"),
        Index(None, "reference"),
    )
