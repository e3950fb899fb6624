"""Demo job types for the laptop stack, tests and benchmarks — never offered in a deployed stage.

Composition roots list `TYPES`, and every type here is marked `demo=True`: the registry hides them unless
`settings.demo_job_types` is on, so listing them exposes nothing in a deployed stage.
They exercise the engine's paths without
doing real work: long runs with heartbeats and cancellation (`demo.sleep`), retryable and permanent failures
(`demo.fail`), the per-job overhead (`demo.noop`, used by the benchmark) and per-item success/failure/skip counts,
ending in `review` when an item failed (`demo.items`).
"""

from __future__ import annotations

import time

from pydantic import BaseModel, ConfigDict, Field

from shared.jobs.context import JobContext
from shared.jobs.errors import NonRetryable
from shared.jobs.registry import job_type


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Sleep(_Payload):
    seconds: float = Field(ge=0, le=30, description="How long to sleep.")
    heartbeat_every: float = Field(default=1.0, gt=0, le=30, description="Seconds between heartbeats.")


class Fail(_Payload):
    message: str = Field(default="demo failure", max_length=1_000)
    retryable: bool = Field(default=True, description="Raise a retryable error (true) or NonRetryable (false).")


class Noop(_Payload):
    pass


class Items(_Payload):
    items: int = Field(ge=0, le=10_000, description="How many items to process.")
    fail_every: int | None = Field(default=None, ge=1, description="Every n-th item fails.")
    skip_every: int | None = Field(
        default=None, ge=1, description="Every n-th item is skipped (an item both would touch fails)."
    )
    report_every: int = Field(default=1, ge=1, le=10_000, description="Items per count update.")


class DemoFailure(Exception):
    """The retryable failure `demo.fail` raises: the engine retries it with backoff."""


@job_type("demo.sleep", payload=Sleep, demo=True, timeout_s=60)
def sleep(ctx: JobContext, payload: Sleep) -> dict[str, float]:
    """Sleep in steps, heartbeating between them, so a cancel stops it within one step."""
    deadline = time.monotonic() + payload.seconds
    while (left := deadline - time.monotonic()) > 0:
        time.sleep(min(payload.heartbeat_every, left))
        ctx.heartbeat()
    return {"slept": payload.seconds}


@job_type("demo.fail", payload=Fail, demo=True, retry_base_ms=200, retry_cap_ms=2_000)
def fail(ctx: JobContext, payload: Fail) -> None:
    if payload.retryable:
        raise DemoFailure(payload.message)
    raise NonRetryable(payload.message, details={"demo": True})


@job_type("demo.noop", payload=Noop, demo=True)
def noop(ctx: JobContext, payload: Noop) -> dict[str, object]:
    return {}


@job_type("demo.items", payload=Items, demo=True)
def items(ctx: JobContext, payload: Items) -> dict[str, int]:
    """Count each item a success, a failure every `fail_every`-th or skipped every `skip_every`-th: any failure
    makes the job end in review; skipped items do not."""
    ctx.set_total(payload.items)
    done = {"success": 0, "failure": 0, "skip": 0}
    pending = dict.fromkeys(done, 0)
    for number in range(1, payload.items + 1):
        if payload.fail_every and number % payload.fail_every == 0:
            outcome = "failure"
        elif payload.skip_every and number % payload.skip_every == 0:
            outcome = "skip"
        else:
            outcome = "success"
        done[outcome] += 1
        pending[outcome] += 1
        if sum(pending.values()) >= payload.report_every or number == payload.items:
            ctx.count(**pending)
            pending = dict.fromkeys(done, 0)
    if payload.skip_every is None:
        del done["skip"]  # the result a job without skips always had
    return done


TYPES = (sleep, fail, noop, items)
