"""The laptop stack end to end: HTTP → api function, S3 → SQS → media function, the scheduler tick, clean stops."""

from __future__ import annotations

import json
import signal
import time
import uuid
from pathlib import Path

import boto3
import pytest
import requests
from botocore.config import Config

from tests.e2e.harness import RunningStack, leftover_processes, start_stack

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]  # one stack per session, on one worker

WAIT_S = 20


def _s3(stack: RunningStack):  # type: ignore[no-untyped-def]
    return boto3.client(
        "s3",
        endpoint_url=stack.aws_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(s3={"addressing_style": "path"}),
    )


def _log_record(line: str) -> dict | None:
    """A Powertools JSON log line as a dict (other lines: None)."""
    start = line.find("{")
    if start < 0:
        return None
    try:
        record = json.loads(line[start:])
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def test_health_over_http(local_stack: RunningStack) -> None:
    response = requests.get(f"{local_stack.api_url}/v1/health", timeout=10)

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert isinstance(response.json(), dict)


def test_openapi_document_is_served(local_stack: RunningStack) -> None:
    response = requests.get(f"{local_stack.api_url}/v1/openapi.json", timeout=10)

    assert response.status_code == 200
    assert "openapi" in response.json()


def test_unknown_route_is_a_json_404_not_a_gateway_error(local_stack: RunningStack) -> None:
    response = requests.get(
        f"{local_stack.api_url}/v1/no-such-route",
        params=[("a", "1"), ("a", "2")],
        headers={"Authorization": f"Bearer {local_stack.admin_key}"},
        timeout=10,
    )

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "route_not_found"


def test_the_printed_admin_key_authenticates_and_no_key_is_a_401(local_stack: RunningStack) -> None:
    url = f"{local_stack.api_url}/v1/api-keys"

    assert (
        requests.get(url, headers={"Authorization": f"Bearer {local_stack.admin_key}"}, timeout=10).status_code == 200
    )
    anonymous = requests.get(url, timeout=10)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "unauthenticated"


def test_start_up_prints_the_settings_a_developer_needs(local_stack: RunningStack) -> None:
    assert local_stack.api_url.startswith("http://127.0.0.1:")
    assert local_stack.aws_endpoint.startswith("http://127.0.0.1:")
    assert local_stack.bucket == "conveyor-local-media"
    assert local_stack.jobs_queue_url.endswith("/conveyor-local-jobs")
    assert local_stack.media_queue_url.endswith("/conveyor-local-media")
    assert local_stack.admin_key
    key_file = local_stack.state_dir / "admin-key"
    assert key_file.read_text().strip() == local_stack.admin_key
    assert key_file.stat().st_mode & 0o777 == 0o600


def test_s3_upload_reaches_the_media_function_with_the_decoded_key(local_stack: RunningStack) -> None:
    key = f"media/{uuid.uuid4()}/some file+name.txt"

    _s3(local_stack).put_object(Bucket=local_stack.bucket, Key=key, Body=b"hello", ContentType="text/plain")

    def received(line: str) -> bool:
        record = _log_record(line)
        return bool(record) and record.get("message") == "s3 object received" and record.get("key") == key

    line = local_stack.output.wait_for(received, WAIT_S)
    assert line is not None, f"no 's3 object received' log for {key!r}:\n{local_stack.output.tail()}"


def test_scheduler_is_ticked(local_stack: RunningStack) -> None:
    def ticked(line: str) -> bool:
        record = _log_record(line)
        return bool(record) and record.get("message") == "scheduler tick"

    assert local_stack.output.wait_for(ticked, WAIT_S) is not None, local_stack.output.tail()


def test_restarts_after_sigkill_and_stops_on_sigterm_without_orphans(tmp_path: Path) -> None:
    """A SIGKILLed run leaves Postgres up and registered; the next start takes over and stops it on exit."""
    killed = start_stack(tmp_path / "state", "--no-scheduler")
    first_key = killed.admin_key
    killed.stop(signal.SIGKILL)

    stack = start_stack(tmp_path / "state", "--no-scheduler")
    postmaster = stack.postmaster_pid()
    try:
        assert stack.admin_key == first_key  # the database is fresh, the developer's key is not
        assert requests.get(f"{stack.api_url}/v1/health", timeout=10).status_code == 200
    finally:
        code = stack.stop(signal.SIGTERM)

    assert code == 0, stack.output.tail()
    assert stack.output.lines[-1] == "stopped"
    assert leftover_processes(stack, postmaster) == []


def test_a_job_created_over_http_runs_through_sqs_and_the_worker(local_stack: RunningStack) -> None:
    headers = {"Authorization": f"Bearer {local_stack.admin_key}"}
    created = requests.post(
        f"{local_stack.api_url}/v1/jobs", json={"type": "demo.noop", "payload": {}}, headers=headers, timeout=10
    )
    assert created.status_code == 201, created.text

    deadline = time.monotonic() + WAIT_S
    status = created.json()["status"]
    while status != "completed" and time.monotonic() < deadline:
        time.sleep(0.2)
        status = requests.get(
            f"{local_stack.api_url}/v1/jobs/{created.json()['id']}", headers=headers, timeout=10
        ).json()["status"]

    assert status == "completed"
