"""CloudWatch metrics through Powertools Metrics (Embedded Metric Format): one JSON line on stdout per flush,
which CloudWatch Logs turns into metrics, so emitting costs no API call and no latency.

Each helper uses its own `EphemeralMetrics` (Powertools' `Metrics` shares one metric set across every instance
in the process, so flushing it here could publish or drop metrics a handler's `@log_metrics` is still
collecting). Helpers never raise: a metric is never worth failing a job or a request for.

Namespace: `POWERTOOLS_METRICS_NAMESPACE` (the stack sets it), else "Conveyor". Service dimension:
`POWERTOOLS_SERVICE_NAME` when set.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

DEFAULT_NAMESPACE = "Conveyor"

logger = Logger(child=True)


def _metrics() -> EphemeralMetrics:
    metrics = EphemeralMetrics()  # namespace and service from the Powertools environment variables
    if not metrics.namespace:
        metrics.namespace = DEFAULT_NAMESPACE
    return metrics


def job_outcome(
    job_type: str, outcome: str, duration_ms: float | None = None, queue_latency_ms: float | None = None
) -> None:
    """One finished job run: `JobCount` (1), `JobDuration` and `QueueLatency` (created → started), in ms.

    Dimensions are (job_type, outcome), e.g. ("translate.text", "completed"); outcome is the status the run
    ended in (completed, review, retrying, failed, cancelled). The worker calls it after each job run.
    """
    try:
        metrics = _metrics()
        metrics.add_dimension(name="job_type", value=job_type)
        metrics.add_dimension(name="outcome", value=outcome)
        metrics.add_metric(name="JobCount", unit=MetricUnit.Count, value=1)
        if duration_ms is not None:
            metrics.add_metric(name="JobDuration", unit=MetricUnit.Milliseconds, value=max(0.0, float(duration_ms)))
        if queue_latency_ms is not None:
            latency = max(0.0, float(queue_latency_ms))
            metrics.add_metric(name="QueueLatency", unit=MetricUnit.Milliseconds, value=latency)
        metrics.flush_metrics()
    except Exception:
        logger.warning("could not emit job metrics", extra={"job_type": job_type, "outcome": outcome}, exc_info=True)


def job_batch(outcomes: list[tuple[str, str, float | None, float | None]]) -> None:
    """One worker batch as ONE document: `JobCount` and a count per outcome (`Jobs_<status>`), with every job's
    `JobDuration` and `QueueLatency` as value arrays (EMF holds up to 100 values per metric).

    `outcomes` holds (job_type, status, duration_ms, queue_latency_ms). No per-type dimension: a document has
    one value per dimension, and a batch may mix types (per-type figures are in the metrics API).
    """
    try:
        metrics = _metrics()
        metrics.add_metric(name="JobCount", unit=MetricUnit.Count, value=len(outcomes))
        counts: dict[str, int] = {}
        for _, status, duration_ms, latency_ms in outcomes[:100]:
            counts[status] = counts.get(status, 0) + 1
            if duration_ms is not None:
                metrics.add_metric(name="JobDuration", unit=MetricUnit.Milliseconds, value=max(0.0, float(duration_ms)))
            if latency_ms is not None:
                metrics.add_metric(name="QueueLatency", unit=MetricUnit.Milliseconds, value=max(0.0, float(latency_ms)))
        for status, n in sorted(counts.items()):
            metrics.add_metric(name=f"Jobs_{status}", unit=MetricUnit.Count, value=n)
        metrics.flush_metrics()
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
