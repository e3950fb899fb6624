"""Metrics: named measurements in Postgres (seed 000), aggregated per user, and CloudWatch figures through EMF."""

from shared.metrics.service import MetricBucket, MetricFilter, add, aggregate, list_measurements, record

__all__ = ["MetricBucket", "MetricFilter", "add", "aggregate", "list_measurements", "record"]
