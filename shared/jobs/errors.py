"""What a job handler raises to steer its job. Any other exception is a retryable failure."""

from __future__ import annotations

from typing import Any


class NonRetryable(Exception):
    """The job cannot succeed however often it is tried (bad input, a permanent refusal): fail it at once."""

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.details = details


class JobCancelled(Exception):
    """Raised from a heartbeat when the job was cancelled: the handler stops, the job ends `cancelled`."""


class LeaseLost(Exception):
    """The job is no longer ours (the lease expired and someone else took it): stop without writing anything."""


class AwaitSegments(Exception):
    """Raised by `JobContext.fan_out` while segments are still running: the parent waits and resumes later."""
