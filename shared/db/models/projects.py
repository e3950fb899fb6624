"""Projects group a user's media, jobs and items (seed 004); archiving hides them without deleting anything."""

# No `from __future__ import annotations` here: SQLAlchemy would then evaluate every `Mapped[...]` string while
# mapping the class, ~10 % of the models' import, which every function pays on each cold start.

import uuid
from datetime import datetime

from sqlalchemy import Index, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, Timestamps, UUIDPk
from shared.db.models._common import fk


class Project(UUIDPk, Timestamps, Base):
    __tablename__ = "projects"

    user_id: Mapped[uuid.UUID] = fk("users.id", "CASCADE")
    name: Mapped[str]
    description: Mapped[str | None] = mapped_column(Text)
    archived_at: Mapped[datetime | None]

    __table_args__ = (Index(None, "user_id", "created_at"),)
