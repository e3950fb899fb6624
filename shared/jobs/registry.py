"""Job types: one decorated function with a pydantic payload model each.

    class Greet(BaseModel):
        name: str

    @job_type("demo.greet", payload=Greet, cost_credits=1, max_attempts=5)
    def greet(ctx: JobContext, payload: Greet) -> dict:
        ctx.log(f"hello {payload.name}")
        return {"greeted": payload.name}

The API validates a new job's payload with the model (422 when it does not fit), the worker parses it again
before calling the function, and whatever the function returns (a dict, a pydantic model or None) is the
job's result. Modules that define types are imported by `load_job_types()`, so both the API and the worker
know every type.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from shared.config import get_settings

if TYPE_CHECKING:
    from shared.jobs.context import JobContext

Handler = Callable[["JobContext", Any], Any]

# Modules whose import registers job types; demo types load only when settings.demo_job_types is on.
BUILTIN_MODULES = ("shared.jobs.builtin",)
DEMO_MODULES = ("shared.jobs.demo",)


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
    internal: bool = False  # created by Conveyor itself, never through the API

    def cost(self, payload: BaseModel) -> int:
        return self.cost_credits(payload) if callable(self.cost_credits) else self.cost_credits


_types: dict[str, JobType] = {}


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
) -> Callable[[Handler], Handler]:
    """Register `fn` as the handler of job type `name`."""

    def register(fn: Handler) -> Handler:
        existing = _types.get(name)
        if existing is not None and existing.handler is not fn:
            raise ValueError(f"job type {name!r} is registered twice")
        _offered.clear()
        _types[name] = JobType(
            name, fn, payload, cost_credits, max_attempts, retry_base_ms, retry_cap_ms, timeout_s, demo, internal
        )
        return fn

    return register


# The offered types per demo flag; every job creation and run asks, so it is built once (and again after a
# registration, which tests and plugins may make late).
_offered: dict[bool, dict[str, JobType]] = {}


def load_job_types() -> dict[str, JobType]:
    """Import the modules that register types (once); returns every type this deployment offers."""
    demo = get_settings().demo_job_types
    offered = _offered.get(demo)
    if offered is None:
        for module in BUILTIN_MODULES + (DEMO_MODULES if demo else ()):
            importlib.import_module(module)
        offered = _offered[demo] = {name: t for name, t in _types.items() if demo or not t.demo}
    return offered


def get_job_type(name: str) -> JobType | None:
    return load_job_types().get(name)
