"""Query parameters shared by the list routes, typed once so the OpenAPI states the limits the validation applies.

`Offset` bounds offset pagination far below what Postgres' bigint OFFSET accepts (an offset above 2**63 - 1 was
a 500): a page a million rows in is already a job for a cursor. `Cursor` is the opaque keyset cursor of
`shared.db.pagination.encode_cursor` (unpadded base64url of a small JSON object, about 116 characters); anything
else is refused by validation before the service tries to decode it.
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

MAX_OFFSET = 1_000_000
# `{"t": "` encodes to `eyJ0Ijog`; an aware timestamp and a uuid make it at least 106 characters.
CURSOR_PATTERN = r"^eyJ0Ijog[A-Za-z0-9_-]+$"
CURSOR_MIN_LENGTH = 100
CURSOR_MAX_LENGTH = 200

Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Rows to skip (at most 1,000,000).")]
Cursor = Annotated[
    str | None,
    Query(
        min_length=CURSOR_MIN_LENGTH,
        max_length=CURSOR_MAX_LENGTH,
        pattern=CURSOR_PATTERN,
        description="The `next_cursor` of the previous page, as returned (opaque).",
    ),
]
