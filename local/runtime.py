"""Conveyor's Lambda functions as the laptop stack runs them: in-process, one invocation at a time each.

Lambda runs one invocation per execution environment; a lock per function keeps that true here, so a
function's single database connection is never shared between threads.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from local.lambda_context import LambdaContext
from shared.resources import MEDIA_TIMEOUT_S, SCHEDULER_TIMEOUT_S, WORKER_TIMEOUT_S

log = logging.getLogger("local.functions")

API_TIMEOUT_S = 29  # API Gateway's integration timeout
SERVICE_NAME_ENV = "POWERTOOLS_SERVICE_NAME"  # infra/functions.py sets it to the function's short name


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


def _load(name: str) -> Callable[[dict[str, Any], Any], Any]:
    """Import functions/<name>/handler.py with POWERTOOLS_SERVICE_NAME=<name>, as the CDK stack sets it.

    Powertools names a child logger `<service>.<module>` when the module is imported, and a parent
    `Logger(service=name)` suppresses, on the root handlers, every record whose logger name contains `name`.
    Imported with the service unset, `functions.api.errors` logged as `service_undefined.functions.api.errors`:
    neither the api logger's child nor let through by the root handler, so unhandled errors vanished. Shared
    modules are imported once, by the first function that needs them, and log under that function's name.
    """
    previous = os.environ.get(SERVICE_NAME_ENV)
    os.environ[SERVICE_NAME_ENV] = name
    try:
        return importlib.import_module(f"functions.{name}.handler").handler
    finally:
        if previous is None:
            os.environ.pop(SERVICE_NAME_ENV, None)
        else:
            os.environ[SERVICE_NAME_ENV] = previous


def load_functions(stage: str = "local") -> Functions:
    """Import the handlers (after the environment is set up: modules read settings at import, as in a cold start)."""
    prefix = f"conveyor-{stage}"
    return Functions(
        api=Function(f"{prefix}-api", _load("api"), API_TIMEOUT_S),
        worker=Function(f"{prefix}-worker", _load("worker"), WORKER_TIMEOUT_S),
        media=Function(f"{prefix}-media", _load("media"), MEDIA_TIMEOUT_S),
        scheduler=Function(f"{prefix}-scheduler", _load("scheduler"), SCHEDULER_TIMEOUT_S),
    )
