"""The API's request and response models for recorded measurements (`/v1/metrics`).

Built on first use (`defer_build`); no `from __future__ import annotations` (pydantic would evaluate every
annotation string while defining the classes).
"""

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, field_validator

from shared.fields import Timestamp
from shared.metrics import service


def _number_or_text(value: Any) -> Any:
    """A JSON number or a string holding one; never a boolean (which pydantic's lax mode would count as 1 or 0)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValueError('Expected a number or a string holding one, e.g. 12.5 or "12.50".')
    return value


MAX_AMOUNT = Decimal("99999999.99")

#: The seed's `Decimal(10, 2)`: at most 8 digits before the point and 2 after, kept exactly (a string avoids any
#: binary rounding on the client's side; a JSON number is read through its decimal text, so 0.1 stays 0.1).
Amount = Annotated[
    Decimal,
    BeforeValidator(_number_or_text),
    Field(
        ge=-MAX_AMOUNT,
        le=MAX_AMOUNT,
        max_digits=10,
        decimal_places=2,
        allow_inf_nan=False,
        description='Up to 8 digits before the point and 2 after (-99999999.99 to 99999999.99): 12.5 or "12.50".',
    ),
]
Name = Annotated[str, StringConstraints(min_length=1, max_length=service.MAX_NAME_CHARS)]
Reference = Annotated[str, StringConstraints(max_length=service.MAX_REFERENCE_CHARS)]
Label = Annotated[str, StringConstraints(max_length=service.MAX_LABEL_CHARS)]


class MetricIn(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    name: Name = Field(description='What is measured, e.g. "render.seconds" (1-200 characters).')
    value: Amount
    reference: Reference | None = Field(default=None, description="What it is about, e.g. a job id (up to 200).")
    label: Label | None = Field(default=None, description="A dimension to group by, e.g. a language (up to 200).")
    start: Timestamp | None = Field(default=None, description="When the measured thing started, with a time zone.")


def _exact(value: Decimal) -> str:
    """The stored number as text: two decimals, more only when a service recorded more (the column keeps 4)."""
    two = value.quantize(Decimal("0.01"))
    return str(two) if two == value else str(value.normalize())


class MetricOut(BaseModel):
    model_config = ConfigDict(from_attributes=True, defer_build=True)

    id: uuid.UUID
    name: str
    value: str = Field(description='The exact value as a decimal string, e.g. "12.50".')
    reference: str = Field(description='"" when none.')
    label: str | None
    start: datetime | None = Field(description="When the measured thing started (UTC), or null.")
    created_at: datetime = Field(description="When it was recorded: the time the aggregates bucket it by.")

    @field_validator("value", mode="before")
    @classmethod
    def _value(cls, value: Any) -> Any:
        return _exact(value) if isinstance(value, Decimal) else value

    @field_validator("start", mode="before")
    @classmethod
    def _start(cls, value: Any) -> Any:
        return datetime.fromtimestamp(float(value), UTC) if isinstance(value, Decimal | int | float) else value


class MetricPage(BaseModel):
    model_config = ConfigDict(defer_build=True)

    items: list[MetricOut] = Field(description="Newest first.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")
