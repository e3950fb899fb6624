"""Issue 12 items 1 and 4 through the laptop stack, over HTTP: a job's own retry policy, and skipped items.

Delays are read from the stack's database clock (`run_at - updated_at` of the retry's UPDATE), never timed.
"""

from __future__ import annotations

import os
import time
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, text

from tests.e2e.harness import RunningStack

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]  # one stack per session, on one worker

WAIT_S = 20


def _headers(stack: RunningStack) -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.admin_key}"}


def _job(stack: RunningStack, job_id: str) -> dict[str, Any]:
    response = requests.get(f"{stack.api_url}/v1/jobs/{job_id}", headers=_headers(stack), timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def _wait_for(stack: RunningStack, job_id: str, statuses: set[str]) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT_S
    job = _job(stack, job_id)
    while job["status"] not in statuses and time.monotonic() < deadline:
        time.sleep(0.2)
        job = _job(stack, job_id)
    return job


def _waited_ms(stack: RunningStack, job_id: str) -> float:
    """The backoff the retry got by the database's clock: run_at and updated_at come from one UPDATE's now()."""
    url = os.environ.get("CONVEYOR_E2E_DATABASE_URL") or stack.banner["Database"]
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return float(
                conn.execute(
                    text("SELECT extract(epoch FROM run_at - updated_at) * 1000 FROM jobs WHERE id = :id"),
                    {"id": job_id},
                ).scalar_one()
            )
    finally:
        engine.dispose()


def test_a_jobs_own_retry_policy_is_shown_and_honoured(local_stack: RunningStack) -> None:
    # Given a failing job with its own policy: 2 attempts, 10 minutes' backoff base (demo.fail's type: 200 ms)
    body = {"type": "demo.fail", "payload": {"retryable": True}, "max_attempts": 2, "retry_delay_ms": 600_000}
    created = requests.post(f"{local_stack.api_url}/v1/jobs", json=body, headers=_headers(local_stack), timeout=10)
    assert created.status_code == 201, created.text
    assert (created.json()["max_attempts"], created.json()["retry_delay_ms"]) == (2, 600_000)

    # When its first attempt fails
    job = _wait_for(local_stack, created.json()["id"], {"retrying", "failed"})

    # Then it waits for its retry by its own delay, not the type's (whose cap is 2 s)
    assert (job["status"], job["attempts"]) == ("retrying", 1), job
    waited = _waited_ms(local_stack, job["id"])
    assert waited == pytest.approx(job["error_details"]["retry_in_ms"], abs=1)
    assert 0 <= waited <= 600_000
    assert job["retry_cap_ms"] == 600_000


def test_a_zero_retry_delay_runs_every_attempt_at_once_then_fails(local_stack: RunningStack) -> None:
    body = {"type": "demo.fail", "payload": {"retryable": True}, "max_attempts": 3, "retry_delay_ms": 0}
    created = requests.post(f"{local_stack.api_url}/v1/jobs", json=body, headers=_headers(local_stack), timeout=10)
    assert created.status_code == 201, created.text

    job = _wait_for(local_stack, created.json()["id"], {"failed"})

    assert (job["status"], job["attempts"]) == ("failed", 3), job


@pytest.mark.parametrize("policy", [{"retry_delay_ms": -1}, {"retry_delay_ms": 600_001}, {"max_attempts": 0}])
def test_a_retry_policy_out_of_bounds_is_a_422(local_stack: RunningStack, policy: dict[str, int]) -> None:
    body = {"type": "demo.noop", "payload": {}, **policy}
    response = requests.post(f"{local_stack.api_url}/v1/jobs", json=body, headers=_headers(local_stack), timeout=10)

    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "validation_failed"


def test_skipped_items_show_as_counts_and_ratios(local_stack: RunningStack) -> None:
    body = {"type": "demo.items", "payload": {"items": 10, "skip_every": 5, "fail_every": 10}}
    created = requests.post(f"{local_stack.api_url}/v1/jobs", json=body, headers=_headers(local_stack), timeout=10)
    assert created.status_code == 201, created.text

    job = _wait_for(local_stack, created.json()["id"], {"review", "completed", "failed"})

    # Items 5 skipped, 10 failed (a failure wins over a skip), eight succeeded: the failure sends it to review
    assert job["status"] == "review", job
    assert job["counts"] == {"total": 10, "success": 8, "failure": 1, "skip": 1}
    assert job["ratios"] == {"success": 0.8, "failure": 0.1, "skip": 0.1}
    assert job["result"] == {"success": 8, "failure": 1, "skip": 1}
