"""Conveyor's Lambda functions as the laptop stack runs them: in-process, one invocation at a time each.

Lambda runs one invocation per execution environment; a lock per function keeps that true here, so a
function's single database connection is never shared between threads.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from local.lambda_context import LambdaContext
from shared.resources import MEDIA_TIMEOUT_S, SCHEDULER_TIMEOUT_S, WORKER_TIMEOUT_S

log = logging.getLogger("local.functions")

API_TIMEOUT_S = 29  # API Gateway's integration timeout


@dataclass
class Function:
    """One deployed function: its name, timeout and handler, invoked serially."""

    name: str
    handler: Callable[[dict[str, Any], Any], Any]
    timeout_s: float
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def invoke(self, event: dict[str, Any]) -> Any:
        """Call the handler with a fresh context, waiting for the previous invocation to finish."""
        with self._lock:
            context = LambdaContext(self.name, timeout_s=self.timeout_s)
            started = time.monotonic()
            try:
                return self.handler(event, context)
            finally:
                elapsed = time.monotonic() - started
                if elapsed > self.timeout_s:
                    log.warning(
                        "%s took %.1f s, over its %s s timeout (Lambda would have killed it)",
                        self.name,
                        elapsed,
                        self.timeout_s,
                    )


@dataclass
class Functions:
    api: Function
    worker: Function
    media: Function
    scheduler: Function


def _load(module: str) -> Callable[[dict[str, Any], Any], Any]:
    return importlib.import_module(module).handler


def load_functions(stage: str = "local") -> Functions:
    """Import the handlers (after the environment is set up: modules read settings at import, as in a cold start)."""
    prefix = f"conveyor-{stage}"
    return Functions(
        api=Function(f"{prefix}-api", _load("functions.api.handler"), API_TIMEOUT_S),
        worker=Function(f"{prefix}-worker", _load("functions.worker.handler"), WORKER_TIMEOUT_S),
        media=Function(f"{prefix}-media", _load("functions.media.handler"), MEDIA_TIMEOUT_S),
        scheduler=Function(f"{prefix}-scheduler", _load("functions.scheduler.handler"), SCHEDULER_TIMEOUT_S),
    )
