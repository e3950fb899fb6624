"""Small helpers shared by the model modules: CHECKs built from enums, FK shorthands, JSONB defaults."""

# No `from __future__ import annotations` here: SQLAlchemy would then evaluate every `Mapped[...]` string while
# mapping the class, ~10 % of the models' import, which every function pays on each cold start.

import uuid
from collections.abc import Iterable
from enum import Enum, IntEnum

from sqlalchemy import CheckConstraint, ForeignKey, text
from sqlalchemy.orm import MappedColumn, mapped_column

EMPTY_OBJECT = text("'{}'::jsonb")
EMPTY_ARRAY = text("'{}'")


def sql_list(values: Iterable[Enum]) -> str:
    """`'a', 'b'` for a StrEnum, `0, 1` for an IntEnum: the body of an SQL IN list."""
    return ", ".join(str(int(v)) if isinstance(v, IntEnum) else f"'{v.value}'" for v in values)


def enum_check(column: str, enum: Iterable[Enum], *, name: str | None = None) -> CheckConstraint:
    """CHECK (column IN (...)) from the enum; NULL passes, as for every CHECK, so nullability stays separate."""
    return CheckConstraint(f"{column} IN ({sql_list(enum)})", name=name or column)


def fk(target: str, ondelete: str, **kw: object) -> MappedColumn[uuid.UUID]:
    """A UUID foreign key column; `ondelete` is spelled out at every use so the choice is deliberate."""
    return mapped_column(ForeignKey(target, ondelete=ondelete), **kw)  # type: ignore[arg-type]
