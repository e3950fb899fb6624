"""One scheduler tick: run each registered step in order, stopping early when the Lambda is out of time.

Steps are added by the areas that own them (jobs, media, automations); each must touch only what is due and
be safe when two ticks overlap. A failing step is logged and does not stop the others.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger

logger = Logger(child=True)

Step = Callable[[], int]
STEPS: list[tuple[str, Step]] = []

# Leave this much of the invocation for the steps still running when we stop starting new ones.
RESERVE_MS = 5_000


def step(name: str) -> Callable[[Step], Step]:
    """Register a scheduler step: a callable returning how many things it handled."""

    def register(fn: Step) -> Step:
        STEPS.append((name, fn))
        return fn

    return register


def run_tick(remaining_ms: Callable[[], int]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for name, fn in STEPS:
        if remaining_ms() < RESERVE_MS:
            results[name] = "skipped: out of time"
            continue
        try:
            results[name] = fn()
        except Exception:
            logger.exception("scheduler step failed", step=name)
            results[name] = "failed"
    return {"steps": results}
