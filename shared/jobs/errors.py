"""What a job handler raises to steer its job. Any other exception is a retryable failure.

What users see of a failure (a job's `error`, its webhook) is only what these carry: the message of a
`NonRetryable` or `RetryableError` is written for users by our own code. Any other exception is recorded as a
generic message and its class name; its text and traceback go to the log only, because exception text may hold
SQL, parameters or host names.
"""

from __future__ import annotations

from typing import Any


class NonRetryable(Exception):
    """The job cannot succeed however often it is tried (bad input, a permanent refusal): fail it at once."""

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.details = details


class RetryableError(Exception):
    """A failure worth retrying whose message is meant for users (a receiver answered 503, a quota was hit)."""

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.details = details


class JobCancelled(Exception):
    """Raised from a heartbeat when the job was cancelled: the handler stops, the job ends `cancelled`."""


class LeaseLost(Exception):
    """The job is no longer ours (the lease expired and someone else took it): stop without writing anything."""


class AwaitSegments(Exception):
    """Raised by `JobContext.fan_out` while segments are still running: the parent waits and resumes later."""
