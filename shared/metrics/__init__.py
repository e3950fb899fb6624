"""Metrics: named measurements in Postgres (seed 000), aggregated per user, and CloudWatch figures through EMF."""

from shared.metrics.service import MetricBucket, aggregate, record

__all__ = ["MetricBucket", "aggregate", "record"]
