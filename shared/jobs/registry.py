"""Job types: one decorated function with a pydantic payload model each, offered by a function that lists it.

    class Greet(BaseModel):
        name: str

    @job_type("demo.greet", payload=Greet, cost_credits=1, max_attempts=5)
    def greet(ctx: JobContext, payload: Greet) -> dict:
        ctx.log(f"hello {payload.name}")
        return {"greeted": payload.name}

The decorator only describes the type (it returns a `JobType`, still callable like the function); nothing is
registered by importing a module. Each function's composition root (`functions/<name>/composition.py`) lists the
types it offers, in order, and calls `use(...)`: a reader opens that file to see every type a function runs.

The API validates a new job's payload with the model (422 when it does not fit), the worker parses it again
before calling the function, and whatever the function returns (a dict, a pydantic model or None) is the
job's result. Internal types (webhook deliveries, derived media, publishing, sales) are created by Conveyor's
own code, which passes the `JobType` object itself; clients name types by string and never reach them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from shared.config import get_settings

if TYPE_CHECKING:
    from shared.jobs.context import JobContext

Handler = Callable[["JobContext", Any], Any]


@dataclass(frozen=True)
class JobType:
    name: str
    handler: Handler
    payload_model: type[BaseModel]
    cost_credits: int | Callable[[Any], int] = 0
    max_attempts: int = 3
    retry_base_ms: int = 1_000
    retry_cap_ms: int = 300_000
    timeout_s: int = 240
    demo: bool = False
    internal: bool = False  # created by Conveyor itself, never through the API or a schedule

    def cost(self, payload: BaseModel) -> int:
        return self.cost_credits(payload) if callable(self.cost_credits) else self.cost_credits

    def __call__(self, ctx: JobContext, payload: Any) -> Any:
        return self.handler(ctx, payload)


def job_type(
    name: str,
    *,
    payload: type[BaseModel],
    cost_credits: int | Callable[[Any], int] = 0,
    max_attempts: int = 3,
    retry_base_ms: int = 1_000,
    retry_cap_ms: int = 300_000,
    timeout_s: int = 240,
    demo: bool = False,
    internal: bool = False,
) -> Callable[[Handler], JobType]:
    """Describe `fn` as the handler of job type `name` (a composition root offers it with `use`)."""

    def describe(fn: Handler) -> JobType:
        return JobType(
            name, fn, payload, cost_credits, max_attempts, retry_base_ms, retry_cap_ms, timeout_s, demo, internal
        )

    return describe


_types: dict[str, JobType] = {}


def use(*types: JobType) -> None:
    """Offer these types in this process (a composition root calls it once; repeating the same type is a no-op)."""
    for spec in types:
        existing = _types.get(spec.name)
        if existing is not None and existing.handler is not spec.handler:
            raise ValueError(f"job type {spec.name!r} is offered twice with different handlers")
        _types[spec.name] = spec


def offered() -> dict[str, JobType]:
    """Every type this process offers; demo types only while settings.demo_job_types is on."""
    demo = get_settings().demo_job_types
    return {name: t for name, t in _types.items() if demo or not t.demo}


def get_job_type(name: str) -> JobType | None:
    spec = _types.get(name)
    if spec is None or (spec.demo and not get_settings().demo_job_types):
        return None
    return spec
