"""Named measurements (seed 000's Metric): services and job handlers record them, users read them aggregated.

A measurement is `(name, value)` with optional `reference` (what it is about, e.g. a job id), `label` (a
dimension to group by, e.g. a language), `start` (when the measured thing started, epoch seconds — so `value`
can be a duration) and `user`. The time a measurement belongs to is the row's `created_at` (now, unless `at` is
given). Aggregation buckets `created_at` by minute, hour or day in UTC, in SQL, always for one user.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Literal

from sqlalchemy import func, literal_column, select, tuple_
from sqlalchemy.orm import Session

from shared.db.models import Metric
from shared.db.pagination import decode_cursor, encode_cursor
from shared.db.session import unit_of_work
from shared.errors import InvalidInput

Bucket = Literal["minute", "hour", "day"]
BUCKET_SIZES: dict[str, timedelta] = {
    "minute": timedelta(minutes=1),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
}
MAX_RANGE = timedelta(days=31)
MAX_BUCKETS = 2_000  # per name and label; with minute buckets that is a range of up to ~33 hours
DEFAULT_RANGE = timedelta(hours=24)
MAX_NAME_CHARS = 200
MAX_REFERENCE_CHARS = 200  # through the API; services may record longer references
MAX_LABEL_CHARS = 200  # through the API
MAX_PAGE = 100
MAX_VALUE = Decimal("1e16")  # the columns are numeric(20, 4)


@dataclass(frozen=True)
class MetricBucket:
    name: str
    label: str | None
    bucket_start: datetime
    count: int
    sum: float
    min: float
    max: float
    avg: float


def _number(value: float | int | Decimal, what: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise InvalidInput(f"The metric {what} is not a number.", details={what: str(value)}) from exc
    if not number.is_finite() or abs(number) >= MAX_VALUE:
        raise InvalidInput(f"The metric {what} is out of range.", details={what: str(value)})
    return number


def _epoch(start: datetime | float | int | Decimal) -> Decimal:
    if isinstance(start, datetime):
        if start.tzinfo is None:
            raise InvalidInput("A metric start needs a time zone.", details={"start": start.isoformat()})
        return _number(round(start.timestamp(), 4), "start")
    return _number(start, "start")


def record(
    name: str,
    value: float | int | Decimal,
    *,
    user_id: uuid.UUID | None = None,
    reference: str | uuid.UUID | None = None,
    start: datetime | float | int | Decimal | None = None,
    label: str | None = None,
    at: datetime | None = None,
    emit: bool = False,
    s: Session | None = None,
) -> uuid.UUID:
    """Store one measurement and return its id.

    Pass `s` to write inside the caller's transaction (the metric then exists only if that work commits).
    `emit=True` also sends it to CloudWatch (EMF) with `label` as a dimension — only for low-cardinality labels.
    """
    row = _row(name, value, user_id=user_id, reference=reference, start=start, label=label, at=at)
    with unit_of_work(s) as tx:
        tx.add(row)
        tx.flush()
    if emit:
        from shared.metrics import emf

        emf.measurement(name, float(value), label=label)
    return row.id


def add(
    name: str,
    value: float | int | Decimal,
    *,
    user_id: uuid.UUID | None = None,
    reference: str | uuid.UUID | None = None,
    start: datetime | float | int | Decimal | None = None,
    label: str | None = None,
    at: datetime | None = None,
    s: Session | None = None,
) -> Metric:
    """Store one measurement and return its row, `created_at` loaded (what `POST /v1/metrics` answers with)."""
    row = _row(name, value, user_id=user_id, reference=reference, start=start, label=label, at=at)
    with unit_of_work(s) as tx:
        tx.add(row)
        tx.flush()
        tx.refresh(row)
    return row


def _row(
    name: str,
    value: float | int | Decimal,
    *,
    user_id: uuid.UUID | None,
    reference: str | uuid.UUID | None,
    start: datetime | float | int | Decimal | None,
    label: str | None,
    at: datetime | None,
) -> Metric:
    """A checked, unsaved measurement row."""
    if not name or len(name) > MAX_NAME_CHARS:
        raise InvalidInput("A metric name needs 1 to 200 characters.", details={"name": name})
    if at is not None and at.tzinfo is None:
        raise InvalidInput("A metric time needs a time zone.", details={"at": at.isoformat()})
    row = Metric(
        user_id=user_id,
        name=name,
        value=_number(value, "value"),
        reference="" if reference is None else str(reference),
        start=None if start is None else _epoch(start),
        label=label,
    )
    if at is not None:
        row.created_at = at
    return row


@dataclass(frozen=True)
class MetricFilter:
    name: str | None = None
    reference: str | None = None
    label: str | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive


def list_measurements(
    user_id: uuid.UUID, flt: MetricFilter, *, limit: int, cursor: str | None, s: Session | None = None
) -> tuple[list[Metric], str | None]:
    """One user's measurements, newest first, keyset-paginated on (created_at, id) so pages stay stable."""
    for what, moment in (("since", flt.since), ("until", flt.until)):
        if moment is not None and moment.tzinfo is None:
            raise InvalidInput(f"{what} needs a time zone (e.g. 2024-05-01T00:00:00Z).", details={what: str(moment)})
    if flt.since is not None and flt.until is not None and flt.since >= flt.until:
        raise InvalidInput("since must be before until.", details={"since": flt.since, "until": flt.until})
    query = select(Metric).where(Metric.user_id == user_id)
    if flt.name is not None:
        query = query.where(Metric.name == flt.name)
    if flt.reference is not None:
        query = query.where(Metric.reference == flt.reference)
    if flt.label is not None:
        query = query.where(Metric.label == flt.label)
    if flt.since is not None:
        query = query.where(Metric.created_at >= flt.since)
    if flt.until is not None:
        query = query.where(Metric.created_at < flt.until)
    if cursor:
        created_at, last_id = decode_cursor(cursor)
        query = query.where(tuple_(Metric.created_at, Metric.id) < tuple_(created_at, last_id))
    limit = min(limit, MAX_PAGE)
    query = query.order_by(Metric.created_at.desc(), Metric.id.desc()).limit(limit + 1)
    with unit_of_work(s) as tx:
        rows = list(tx.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, encode_cursor(rows[-1].created_at, rows[-1].id) if more else None


def resolve_range(
    since: datetime | None, until: datetime | None, bucket: str, *, now: datetime | None = None
) -> tuple[datetime, datetime]:
    """The (since, until) to aggregate over, defaulted and checked: at most 31 days and 2,000 buckets."""
    if bucket not in BUCKET_SIZES:
        raise InvalidInput("bucket must be minute, hour or day.", details={"bucket": bucket})
    for what, moment in (("since", since), ("until", until)):
        if moment is not None and moment.tzinfo is None:
            raise InvalidInput(f"{what} needs a time zone (e.g. 2024-05-01T00:00:00Z).", details={what: str(moment)})
    until = until or (now or datetime.now(UTC))
    since = since or until - DEFAULT_RANGE
    if since >= until:
        raise InvalidInput("since must be before until.", details={"since": since, "until": until})
    if until - since > MAX_RANGE:
        raise InvalidInput("The range may span at most 31 days.", details={"since": since, "until": until})
    if (until - since) / BUCKET_SIZES[bucket] > MAX_BUCKETS:
        raise InvalidInput(
            "Too many buckets for this range; use a coarser bucket or a shorter range.",
            details={"bucket": bucket, "max_buckets": MAX_BUCKETS},
        )
    return since, until


def aggregate(
    user_id: uuid.UUID,
    *,
    since: datetime,
    until: datetime,
    bucket: Bucket = "hour",
    name: str | None = None,
    label: str | None = None,
    s: Session | None = None,
) -> list[MetricBucket]:
    """Count, sum, min, max and average of the user's measurements per (name, label, UTC bucket) in [since, until).

    Ordered by bucket, then name, then label. Served by the (user_id, name, created_at) index.
    """
    since, until = resolve_range(since, until, bucket)
    # date_trunc on a timestamptz truncates in the session's time zone: convert to UTC wall time first.
    # Both are inlined literals (bucket is one of three known words): bound parameters would make the GROUP BY
    # expression differ from the selected one in Postgres' eyes.
    utc_time = func.timezone(literal_column("'UTC'"), Metric.created_at)
    bucket_start = func.date_trunc(literal_column(f"'{bucket}'"), utc_time).label("bucket_start")
    stmt = (
        select(
            Metric.name,
            Metric.label,
            bucket_start,
            func.count().label("count"),
            func.sum(Metric.value).label("sum"),
            func.min(Metric.value).label("min"),
            func.max(Metric.value).label("max"),
            func.avg(Metric.value).label("avg"),
        )
        .where(Metric.user_id == user_id, Metric.created_at >= since, Metric.created_at < until)
        .group_by(Metric.name, Metric.label, bucket_start)
        .order_by(bucket_start, Metric.name, Metric.label.nulls_first())
    )
    if name is not None:
        stmt = stmt.where(Metric.name == name)
    if label is not None:
        stmt = stmt.where(Metric.label == label)
    with unit_of_work(s) as tx:
        rows = tx.execute(stmt).all()
    return [
        MetricBucket(
            name=row.name,
            label=row.label,
            bucket_start=row.bucket_start.replace(tzinfo=UTC),
            count=int(row.count),
            sum=_float(row.sum),
            min=_float(row.min),
            max=_float(row.max),
            avg=_float(row.avg),
        )
        for row in rows
    ]


def _float(value: Decimal) -> float:
    number = float(value)
    return round(number, 4) if math.isfinite(number) else 0.0
