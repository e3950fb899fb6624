"""Per-job retry policy (max_attempts, retry_delay_ms) and skipped items, through the API (issue 12, items 1 and 4).

Delays are measured with the database's clock: a retry's `run_at` and `updated_at` are set by the same UPDATE
from the same `now()`, so their difference is the backoff the runner chose — never a wall-clock timing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from pydantic import BaseModel
from sqlalchemy import func, select

from shared.db import session
from shared.db.models import Job
from shared.errors import InvalidInput
from shared.jobs import registry, service
from shared.jobs.admission import MAX_RETRY_DELAY_MS
from shared.jobs.context import JobContext
from shared.jobs.registry import job_type
from tests.conftest import reconfigure
from tests.support.jobs import deliver_once, drain, queued_messages


class Flaky(BaseModel):
    pass


@job_type("policy.flaky", payload=Flaky, max_attempts=2, retry_base_ms=100, retry_cap_ms=1_000)
def flaky(ctx: JobContext, payload: Flaky) -> None:
    raise RuntimeError(f"transient failure on attempt {ctx.attempt}")


registry.use(flaky)  # offered as a composition root would


def waited_ms(job_id: str | uuid.UUID) -> tuple[float, Job]:
    """The backoff the retry got, by the database's clock (run_at - the UPDATE's now()), and the job."""
    with session() as s:
        row = s.execute(
            select(Job, (func.extract("epoch", Job.run_at - Job.updated_at) * 1000).label("ms")).where(
                Job.id == uuid.UUID(str(job_id))
            )
        ).one()
        return float(row.ms), row.Job


def stored_jobs() -> int:
    with session() as s:
        return s.scalar(select(func.count()).select_from(Job)) or 0


# --- retry policy -------------------------------------------------------------------------------------------------


def test_a_job_without_a_policy_gets_the_types_and_shows_it(aws_env, alice) -> None:  # type: ignore[no-untyped-def]
    created = alice.client.post("/v1/jobs", json_body={"type": "policy.flaky"})

    assert created.status == 201, created.body
    policy = {k: created.json[k] for k in ("max_attempts", "retry_delay_ms", "retry_cap_ms")}
    assert policy == {"max_attempts": 2, "retry_delay_ms": 100, "retry_cap_ms": 1_000}
    assert alice.client.get(f"/v1/jobs/{created.json['id']}").json["retry_delay_ms"] == 100


def test_a_jobs_own_retry_delay_is_the_base_of_its_backoff(aws_env, alice) -> None:  # type: ignore[no-untyped-def]
    # Given five jobs whose own retry delay (2 minutes) is far above their type's cap (1 s)
    body = {"type": "policy.flaky", "retry_delay_ms": 120_000, "max_attempts": 4}
    created = alice.client.post("/v1/jobs/batch", json_body={"jobs": [body] * 5})
    assert created.status == 201, created.body
    assert {(j["retry_delay_ms"], j["retry_cap_ms"], j["max_attempts"]) for j in created.json["items"]} == {
        (120_000, 120_000, 4)
    }

    # When each fails its first attempt
    deliver_once()

    # Then each waits its backoff by the database's clock: within [0, retry_delay_ms], as the job says; with the
    # type's policy none could wait more than 1 s (five draws all under 1 s out of 120 s: ~4e-11)
    waits = []
    for item in created.json["items"]:
        ms, job = waited_ms(item["id"])
        assert (job.status, job.attempts) == ("retrying", 1)
        assert 0 <= ms <= 120_000
        assert ms == pytest.approx(job.error_details["retry_in_ms"], abs=1)
        waits.append(ms)
    assert max(waits) > 1_000
    shown = alice.client.get(f"/v1/jobs/{created.json['items'][0]['id']}").json
    assert (shown["status"], shown["retry_delay_ms"]) == ("retrying", 120_000)


def test_a_zero_retry_delay_retries_at_once_up_to_the_jobs_own_max_attempts(aws_env, alice) -> None:  # type: ignore[no-untyped-def]
    created = alice.client.post(
        "/v1/jobs", json_body={"type": "policy.flaky", "retry_delay_ms": 0, "max_attempts": 3}
    ).json

    deliver_once()
    ms, job = waited_ms(created["id"])
    assert (job.status, ms) == ("retrying", 0)

    drain()

    done = alice.client.get(f"/v1/jobs/{created['id']}").json
    assert (done["status"], done["attempts"], done["max_attempts"]) == ("failed", 3, 3)  # the type allows 2


@pytest.mark.parametrize(
    "policy",
    [
        {"retry_delay_ms": -1},
        {"retry_delay_ms": MAX_RETRY_DELAY_MS + 1},
        {"retry_delay_ms": 2**31},
        {"retry_delay_ms": True},
        {"retry_delay_ms": "100"},
        {"retry_delay_ms": 100.0},
        {"retry_delay_ms": None, "max_attempts": 0},
        {"max_attempts": 26},
        {"max_attempts": "3"},
    ],
)
def test_a_retry_policy_out_of_bounds_is_422_and_stores_nothing(aws_env, alice, policy: dict) -> None:  # type: ignore[no-untyped-def]
    one = alice.client.post("/v1/jobs", json_body={"type": "policy.flaky", **policy})
    batch = alice.client.post(
        "/v1/jobs/batch", json_body={"jobs": [{"type": "policy.flaky"}, {"type": "policy.flaky", **policy}]}
    )

    assert (one.status, one.error_code) == (422, "validation_failed"), one.body
    assert (batch.status, batch.error_code) == (422, "validation_failed"), batch.body
    assert stored_jobs() == 0
    assert queued_messages() == 0


def test_the_bounds_hold_for_callers_of_the_service_too(aws_env, alice) -> None:  # type: ignore[no-untyped-def]
    for delay in (-1, MAX_RETRY_DELAY_MS + 1):
        with pytest.raises(InvalidInput) as refused:
            service.create_job(user_id=alice.id, type="policy.flaky", retry_delay_ms=delay)
        assert refused.value.details == {"field": "retry_delay_ms"}
    assert stored_jobs() == 0


def test_the_largest_retry_delay_is_accepted(aws_env, alice) -> None:  # type: ignore[no-untyped-def]
    created = alice.client.post("/v1/jobs", json_body={"type": "policy.flaky", "retry_delay_ms": MAX_RETRY_DELAY_MS})

    assert created.status == 201, created.body
    assert (created.json["retry_delay_ms"], created.json["retry_cap_ms"]) == (MAX_RETRY_DELAY_MS, MAX_RETRY_DELAY_MS)


# --- skipped items ------------------------------------------------------------------------------------------------


@pytest.fixture
def demo_types(aws_env, alice, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CONVEYOR_DEMO_JOB_TYPES", "true")
    reconfigure()
    yield
    monkeypatch.delenv("CONVEYOR_DEMO_JOB_TYPES")
    reconfigure()


def test_skipped_items_are_counted_with_their_ratio_and_do_not_send_a_job_to_review(alice, demo_types) -> None:  # type: ignore[no-untyped-def]
    created = alice.client.post("/v1/jobs", json_body={"type": "demo.items", "payload": {"items": 8, "skip_every": 4}})
    assert created.status == 201, created.body

    drain()

    done = alice.client.get(f"/v1/jobs/{created.json['id']}").json
    assert done["status"] == "completed"
    assert done["counts"] == {"total": 8, "success": 6, "failure": 0, "skip": 2}
    assert done["ratios"] == {"success": 0.75, "failure": 0.0, "skip": 0.25}
    assert done["result"] == {"success": 6, "failure": 0, "skip": 2}
    assert done["progress"] == 100


def test_skips_and_failures_together_end_in_review(alice, demo_types) -> None:  # type: ignore[no-untyped-def]
    payload = {"items": 12, "skip_every": 3, "fail_every": 4, "report_every": 5}
    created = alice.client.post("/v1/jobs", json_body={"type": "demo.items", "payload": payload}).json

    drain()

    review = alice.client.get(f"/v1/jobs/{created['id']}").json
    assert review["status"] == "review"
    assert review["counts"] == {"total": 12, "success": 6, "failure": 3, "skip": 3}
    assert review["ratios"] == {"success": 0.5, "failure": 0.25, "skip": 0.25}
