"""CloudWatch metrics through Powertools Metrics (Embedded Metric Format): one JSON line on stdout per flush,
which CloudWatch Logs turns into metrics, so emitting costs no API call and no latency.

Each helper uses its own `EphemeralMetrics` (Powertools' `Metrics` shares one metric set across every instance
in the process, so flushing it here could publish or drop metrics a handler's `@log_metrics` is still
collecting). Helpers never raise: a metric is never worth failing a job or a request for.

Namespace: `POWERTOOLS_METRICS_NAMESPACE` (the stack sets it), else "Conveyor". Service dimension:
`POWERTOOLS_SERVICE_NAME` when set.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

DEFAULT_NAMESPACE = "Conveyor"

logger = Logger(child=True)


def _metrics() -> EphemeralMetrics:
    metrics = EphemeralMetrics()  # namespace and service from the Powertools environment variables
    if not metrics.namespace:
        metrics.namespace = DEFAULT_NAMESPACE
    return metrics


def job_batch(outcomes: list[tuple[str, str, float | None, float | None]]) -> None:
    """One worker batch as ONE document: `JobCount`, a count per outcome (`Jobs_<status>`), and every job's
    `JobDuration` and `QueueLatency` as value arrays (EMF holds up to 100 values per metric).

    `outcomes` holds (job_type, status, duration_ms, queue_latency_ms). No per-type dimension: a document has
    one value per dimension, and a batch may mix types (per-type figures are in the metrics API). Written as the
    EMF JSON itself rather than through Powertools' `add_metric`, whose per-value cost (~30 µs) was a tenth of
    the worker's time per batch; the document is the same shape Powertools prints.
    """
    try:
        counts: dict[str, int] = {}
        durations: list[float] = []
        latencies: list[float] = []
        for _, status, duration_ms, latency_ms in outcomes[:100]:
            counts[status] = counts.get(status, 0) + 1
            if duration_ms is not None:
                durations.append(round(max(0.0, duration_ms), 3))
            if latency_ms is not None:
                latencies.append(round(max(0.0, latency_ms), 3))
        values: dict[str, tuple[str, Any]] = {"JobCount": ("Count", float(len(outcomes)))}
        values.update({f"Jobs_{status}": ("Count", float(n)) for status, n in sorted(counts.items())})
        if durations:
            values["JobDuration"] = ("Milliseconds", durations)
        if latencies:
            values["QueueLatency"] = ("Milliseconds", latencies)
        service = os.environ.get("POWERTOOLS_SERVICE_NAME")
        directive = {
            "Namespace": os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or DEFAULT_NAMESPACE,
            "Dimensions": [["service"]] if service else [[]],
            "Metrics": [{"Name": name, "Unit": unit} for name, (unit, _) in values.items()],
        }
        document: dict[str, Any] = {"_aws": {"Timestamp": int(time.time() * 1000), "CloudWatchMetrics": [directive]}}
        if service:
            document["service"] = service
        document.update({name: value for name, (_, value) in values.items()})
        print(json.dumps(document, separators=(",", ":")), flush=True)
    except Exception:
        logger.warning("could not emit job batch metrics", exc_info=True)


def measurement(name: str, value: float, *, unit: MetricUnit = MetricUnit.Count, label: str | None = None) -> None:
    """A recorded measurement (shared.metrics.service.record) as a CloudWatch metric of the same name.

    `label` becomes a `label` dimension: only pass low-cardinality labels (a language, a job type), since each
    distinct value is a separate CloudWatch metric.
    """
    try:
        metrics = _metrics()
        if label:
            metrics.add_dimension(name="label", value=label)
        metrics.add_metric(name=name, unit=unit, value=float(value))
        metrics.flush_metrics()
    except Exception:
        logger.warning("could not emit a metric", extra={"metric": name}, exc_info=True)
