"""Through the laptop stack over HTTP: a job names the worker that ran it, and the registry counts its work."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import requests

from tests.e2e.harness import RunningStack

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]  # one stack per session, on one worker

WAIT_S = 20


def _api(stack: RunningStack, method: str, path: str, **kwargs: Any) -> Any:
    response = requests.request(
        method,
        f"{stack.api_url}{path}",
        headers={"Authorization": f"Bearer {stack.admin_key}"},
        timeout=10,
        **kwargs,
    )
    assert response.status_code < 300, response.text
    return response.json()


def _until(read: Callable[[], Any], done: Callable[[Any], bool]) -> Any:
    deadline = time.monotonic() + WAIT_S
    value = read()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(0.1)
        value = read()
    return value


def _worker(stack: RunningStack, worker_id: str) -> dict[str, Any]:
    items = _api(stack, "GET", "/v1/admin/workers", params={"limit": 100})["items"]
    return next((w for w in items if w["id"] == worker_id), {})


def test_a_job_names_its_worker_and_the_worker_counts_its_jobs(local_stack: RunningStack) -> None:
    # Given a job that fails, then one that runs for a few seconds
    failing = _api(local_stack, "POST", "/v1/jobs", json={"type": "demo.fail", "payload": {"retryable": False}})
    sleeping = _api(local_stack, "POST", "/v1/jobs", json={"type": "demo.sleep", "payload": {"seconds": 3}})

    # When the sleeping job runs, Then it names its worker, which shows it as active
    running = _until(lambda: _api(local_stack, "GET", f"/v1/jobs/{sleeping['id']}"), lambda j: j["status"] == "running")
    assert running["status"] == "running", running
    worker_id = running["worker_id"]
    assert worker_id is not None
    busy = _until(lambda: _worker(local_stack, worker_id), lambda w: w.get("active_jobs", 0) >= 1)
    assert (busy["status"], busy["active_jobs"], busy["name"]) == ("active", 1, running["worker_name"])
    assert busy["concurrency"] >= 1
    assert busy["started_at"] is not None
    assert busy["stopped_at"] is None

    # And once both are done, nothing is active and the counts include the failure and the success
    failed = _until(lambda: _api(local_stack, "GET", f"/v1/jobs/{failing['id']}"), lambda j: j["status"] == "failed")
    assert failed["status"] == "failed", failed
    done = _until(lambda: _api(local_stack, "GET", f"/v1/jobs/{sleeping['id']}"), lambda j: j["status"] == "completed")
    assert done["status"] == "completed", done
    assert done["worker_id"] == worker_id
    assert done["worker_name"] == running["worker_name"]
    counted = _until(
        lambda: _worker(local_stack, worker_id),
        lambda w: w.get("active_jobs") == 0 and w.get("processed_count", 0) >= 2 and w.get("failed_count", 0) >= 1,
    )
    assert counted["active_jobs"] == 0, counted
    assert counted["failed_count"] >= 1, counted  # the failure, reported by the slow batch if not before
    assert counted["processed_count"] >= counted["failed_count"] + 1, counted
