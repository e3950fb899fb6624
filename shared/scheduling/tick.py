"""One scheduler tick: run the given steps in order, stopping early when the Lambda is out of time.

The scheduler function's composition root lists its steps, in order (functions/scheduler/composition.py);
nothing registers itself by being imported. Each step must touch only what is due and be safe when two ticks
overlap. A failing step is logged and does not stop the others.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from aws_lambda_powertools import Logger

logger = Logger(child=True)

Step = Callable[[], int]

# Leave this much of the invocation for the steps still running when we stop starting new ones.
RESERVE_MS = 5_000


def run_tick(steps: Sequence[tuple[str, Step]], remaining_ms: Callable[[], int]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for name, fn in steps:
        if remaining_ms() < RESERVE_MS:
            results[name] = "skipped: out of time"
            continue
        try:
            results[name] = fn()
        except Exception:
            logger.exception("scheduler step failed", step=name)
            results[name] = "failed"
    return {"steps": results}
