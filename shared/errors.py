"""Domain errors. Services raise these; the API maps them to HTTP by type in one place (functions/api/errors.py).

Each carries a stable machine-readable `code`, a human message and optional details. Messages never contain
secrets: they are returned to clients and logged.
"""

from __future__ import annotations

from typing import Any


class ConveyorError(Exception):
    code = "error"

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        if code:
            self.code = code


class BadRequest(ConveyorError):
    """The request itself is unusable (unreadable, replayed, out of date) before its content is even judged."""

    code = "bad_request"


class UnsupportedMediaType(BadRequest):
    """The body is in a media type the route does not read (415)."""

    code = "unsupported_media_type"


class InvalidInput(ConveyorError):
    """The request is well-formed but its content is not acceptable."""

    code = "invalid_input"


class NotFound(ConveyorError):
    """Absent, or not the caller's: both answer the same, so ids of other tenants reveal nothing."""

    code = "not_found"


class Conflict(ConveyorError):
    code = "conflict"


class Unauthenticated(ConveyorError):
    code = "unauthenticated"


class Forbidden(ConveyorError):
    code = "forbidden"


class InsufficientCredits(ConveyorError):
    code = "insufficient_credits"


class Unavailable(ConveyorError):
    """A dependency (database, AWS) is down: the request may succeed later."""

    code = "unavailable"
