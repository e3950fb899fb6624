"""Field types for the API's request schemas, so each rule is written once and the OpenAPI says what is checked.

- Integers are bounded by the column they land in (`Int4`, `Int8`): beyond it Postgres would refuse the row
  with a 500. Domain rules narrower than the column stay in the services, with their own error codes.
- A time is an ISO 8601 date-time with a time zone (`Timestamp`): a naive time has no meaning for a
  `timestamptz` and numbers (pydantic's lax mode takes them as Unix times) are not what the schema documents.
- A documented boolean takes `true` or `false` only (`Flag`), not 0, 1 or "yes"; likewise an integer in a body
  takes a JSON integer only (`strict=True`), not `false`, `"5"` or `5.0` (pydantic's lax mode would take them).

No `from __future__ import annotations` (pydantic evaluates these at import, once).
"""

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BeforeValidator, Field, StrictBool

INT4_MIN, INT4_MAX = -(2**31), 2**31 - 1
# An int8 column takes ±2^63, but the OpenAPI document (JSON, written through floats) and most JSON clients hold
# integers exactly only up to 2^53: the bound that is the same in the spec, the client and the column.
INT8_MIN, INT8_MAX = -(2**53 - 1), 2**53 - 1

Int4 = Annotated[int, Field(ge=INT4_MIN, le=INT4_MAX, strict=True)]
Int8 = Annotated[int, Field(ge=INT8_MIN, le=INT8_MAX, strict=True)]
#: A position in a user-ordered list (presets, automations, an item's files): an int4 column.
SortOrder = Annotated[int, Field(ge=-1_000_000, le=1_000_000, strict=True)]

_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def _date_time_text(value: Any) -> Any:
    """A string in ISO 8601 date-time form, or an already parsed datetime; never a number or a bare date."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _DATE_TIME.match(value):
        raise ValueError("Expected an ISO 8601 date-time with a time zone, e.g. 2030-01-01T09:00:00+01:00.")
    return value


Timestamp = Annotated[AwareDatetime, BeforeValidator(_date_time_text)]
Flag = StrictBool
