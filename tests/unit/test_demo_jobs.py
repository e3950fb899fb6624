"""Demo job types: offered only with the demo flag, and each does what the engine's tests and benchmark need.

Handlers run against a recording stand-in for JobContext (no database): what they report is what is checked.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from pydantic import ValidationError

from shared.jobs import demo
from shared.jobs.errors import JobCancelled, NonRetryable
from shared.jobs.registry import offered as load_job_types
from tests.conftest import reconfigure

DEMO_TYPES = {"demo.sleep", "demo.fail", "demo.noop", "demo.items"}


@dataclass
class RecordingContext:
    """Records what a handler reports; `cancel_after` heartbeats, the next one raises JobCancelled."""

    cancel_after: int | None = None
    job_id: uuid.UUID = field(default_factory=uuid.uuid4)
    total: int = 0
    heartbeats: int = 0
    counts: list[tuple[int, int, int]] = field(default_factory=list)

    def heartbeat(self) -> None:
        if self.cancel_after is not None and self.heartbeats >= self.cancel_after:
            raise JobCancelled("cancelled")
        self.heartbeats += 1

    def set_total(self, total: int) -> None:
        self.total = total

    def count(self, *, success: int = 0, failure: int = 0, skip: int = 0) -> None:
        self.counts.append((success, failure, skip))


@pytest.fixture
def demo_flag(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("CONVEYOR_DEMO_JOB_TYPES", "true")
    reconfigure()
    yield
    monkeypatch.delenv("CONVEYOR_DEMO_JOB_TYPES")
    reconfigure()


def test_demo_types_are_offered_only_with_the_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the flag off (the default in a deployed stage), even though this test module imported shared.jobs.demo
    monkeypatch.setenv("CONVEYOR_DEMO_JOB_TYPES", "false")
    reconfigure()
    try:
        # Then no demo type is offered, but the built-in ones are
        offered = load_job_types()
        assert not DEMO_TYPES & set(offered)
        assert "translate.text" in offered

        # When the flag is on, Then all four are offered and marked as demo types
        monkeypatch.setenv("CONVEYOR_DEMO_JOB_TYPES", "true")
        reconfigure()
        offered = load_job_types()
        assert set(offered) >= DEMO_TYPES
        assert all(offered[name].demo for name in DEMO_TYPES)
        assert offered["demo.noop"].cost(demo.Noop()) == 0
    finally:
        monkeypatch.delenv("CONVEYOR_DEMO_JOB_TYPES")
        reconfigure()


def test_sleep_heartbeats_in_steps() -> None:
    ctx = RecordingContext()
    started = time.monotonic()
    assert demo.sleep(ctx, demo.Sleep(seconds=0.2, heartbeat_every=0.05)) == {"slept": 0.2}  # type: ignore[arg-type]
    assert 0.2 <= time.monotonic() - started < 2
    assert ctx.heartbeats >= 4


def test_sleep_stops_at_the_first_heartbeat_after_a_cancel() -> None:
    # Given a job cancelled after its second heartbeat
    ctx = RecordingContext(cancel_after=2)
    started = time.monotonic()
    # When it would sleep 30 s in 50 ms steps, Then it stops within the third step
    with pytest.raises(JobCancelled):
        demo.sleep(ctx, demo.Sleep(seconds=30, heartbeat_every=0.05))  # type: ignore[arg-type]
    assert time.monotonic() - started < 1


def test_fail_raises_a_retryable_or_a_permanent_error() -> None:
    with pytest.raises(demo.DemoFailure, match="flaky") as retryable:
        demo.fail(RecordingContext(), demo.Fail(message="flaky", retryable=True))  # type: ignore[arg-type]
    assert not isinstance(retryable.value, NonRetryable)
    with pytest.raises(NonRetryable, match="broken"):
        demo.fail(RecordingContext(), demo.Fail(message="broken", retryable=False))  # type: ignore[arg-type]


def test_noop_returns_an_empty_result() -> None:
    assert demo.noop(RecordingContext(), demo.Noop()) == {}  # type: ignore[arg-type]


def test_items_counts_each_item_and_every_nth_fails() -> None:
    # When 10 items run with every 4th failing
    ctx = RecordingContext()
    result = demo.items(ctx, demo.Items(items=10, fail_every=4))  # type: ignore[arg-type]

    # Then the total is declared, each item is counted once, and items 4 and 8 failed
    assert ctx.total == 10
    assert len(ctx.counts) == 10
    assert sum(c[0] for c in ctx.counts) == 8
    assert sum(c[1] for c in ctx.counts) == 2
    assert ctx.counts[3] == (0, 1, 0)
    assert ctx.counts[7] == (0, 1, 0)
    assert result == {"success": 8, "failure": 2}


def test_items_skips_every_nth_and_a_failure_wins_over_a_skip() -> None:
    # When 12 items run with every 3rd skipped and every 4th failing
    ctx = RecordingContext()
    result = demo.items(ctx, demo.Items(items=12, fail_every=4, skip_every=3))  # type: ignore[arg-type]

    # Then items 3, 6 and 9 were skipped, 4, 8 and 12 failed (12 is both: it fails), the rest succeeded
    assert [i + 1 for i, c in enumerate(ctx.counts) if c == (0, 0, 1)] == [3, 6, 9]
    assert [i + 1 for i, c in enumerate(ctx.counts) if c == (0, 1, 0)] == [4, 8, 12]
    assert result == {"success": 6, "failure": 3, "skip": 3}


def test_items_can_report_in_batches() -> None:
    ctx = RecordingContext()
    demo.items(ctx, demo.Items(items=7, report_every=3))  # type: ignore[arg-type]
    assert ctx.counts == [(3, 0, 0), (3, 0, 0), (1, 0, 0)]


@pytest.mark.parametrize(
    ("model", "data"),
    [
        (demo.Sleep, {"seconds": 31}),
        (demo.Sleep, {"seconds": 1, "heartbeat_every": 0}),
        (demo.Fail, {"retryable": "maybe"}),
        (demo.Noop, {"unexpected": 1}),
        (demo.Items, {"items": -1}),
        (demo.Items, {"items": 3, "fail_every": 0}),
    ],
)
def test_bad_demo_payloads_are_refused(model: type, data: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        model.model_validate(data)


def test_demo_jobs_end_in_the_statuses_the_engine_gives_them(db, demo_flag: None) -> None:  # type: ignore[no-untyped-def]
    """The one check here that uses the database: demo types through the real runner (flag on)."""
    from shared.db import session
    from shared.db.enums import JobStatus
    from shared.db.models import Job
    from shared.jobs import wakeups
    from shared.jobs.runner import run_batch
    from shared.jobs.service import create_job

    previous = wakeups.set_transport(lambda _: None)
    try:
        ids = {
            "noop": create_job(user_id=None, type="demo.noop", payload={}).job.id,
            "items": create_job(user_id=None, type="demo.items", payload={"items": 5, "fail_every": 5}).job.id,
            "fail": create_job(user_id=None, type="demo.fail", payload={"retryable": False}).job.id,
        }
        run_batch(5, worker="test-worker", remaining_ms=lambda: 60_000)
    finally:
        wakeups.set_transport(previous)
    with session() as s:
        status = {name: s.get(Job, job_id).status for name, job_id in ids.items()}  # type: ignore[union-attr]
    assert status == {"noop": JobStatus.COMPLETED, "items": JobStatus.REVIEW, "fail": JobStatus.FAILED}
