"""Job webhooks: the URL guard, Standard Webhooks signatures, retries, the outbox rows and their API."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from sqlalchemy import func, select, update
from standardwebhooks.webhooks import Webhook

from shared import outbound, webhooks
from shared.db import session
from shared.db.enums import JobStatus, WebhookStatus
from shared.db.models import Credential, Job, WebhookDelivery
from shared.errors import InvalidInput
from shared.identity import vault
from shared.jobs.admission import Origin
from shared.jobs.context import JobContext
from shared.jobs.errors import NonRetryable
from shared.jobs.registry import get_job_type
from shared.jobs.service import create_job
from tests.conftest import reconfigure
from tests.support.http import local_server, read_body, reply
from tests.support.users import TestUser

EMAIL = {"to": ["someone@example.com"], "subject": "hi", "text": "hello"}
PUBLIC_IP = "93.184.215.14"


# --- helpers ----------------------------------------------------------------------------------------------------


class Receiver:
    """A local webhook receiver: records every request and answers with the queued statuses (then 200)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.statuses: list[int] = []
        self.delay_s = 0.0
        self.url = ""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()

    def handle(request: BaseHTTPRequestHandler) -> None:
        body = read_body(request)
        rec.requests.append((request.path, {k.lower(): v for k, v in request.headers.items()}, body))
        time.sleep(rec.delay_s)
        status = rec.statuses.pop(0) if rec.statuses else 200
        location = {"Location": "http://127.0.0.1:9/elsewhere"} if 300 <= status < 400 else {}
        reply(request, status, b"nope" if status >= 400 else b"ok", location)

    with local_server(handle) as base:
        rec.url = f"{base}/hooks/conveyor?source=test"
        yield rec


@pytest.fixture
def loopback_allowed(aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The laptop stack's setting: webhooks may call 127.0.0.1."""
    monkeypatch.setenv("CONVEYOR_WEBHOOK_ALLOWED_HOSTS", '["127.0.0.1"]')
    reconfigure()
    yield
    monkeypatch.delenv("CONVEYOR_WEBHOOK_ALLOWED_HOSTS")
    reconfigure()


def fake_dns(monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[str]]) -> None:
    real = outbound._resolve

    def resolve(host: str, port: int) -> list[str]:
        if host in answers:
            return answers[host]
        return real(host, port)

    monkeypatch.setattr(outbound, "_resolve", resolve)


def finished_job(user: TestUser, url: str, *, status: JobStatus = JobStatus.COMPLETED) -> WebhookDelivery:
    """A job with a webhook that just reached `status`, its delivery queued as the worker does it."""
    job = create_job(user_id=user.id, type="email.send", payload=EMAIL, webhook_url=url).job
    with session() as s:
        s.execute(
            update(Job)
            .where(Job.id == job.id)
            .values(status=status.value, result={"message_id": "m-1"}, progress=100, finished_at=func.now())
        )
        delivery = webhooks.enqueue_delivery(s, s.get(Job, job.id), f"job.{status.value}")  # type: ignore[arg-type]
    assert delivery is not None
    return delivery


def deliver_job(delivery_id: uuid.UUID) -> Job:
    with session() as s:
        job = s.scalar(
            select(Job).where(Job.type == webhooks.DELIVER_TYPE, Job.payload["delivery_id"].astext == str(delivery_id))
        )
    assert job is not None
    return job


def run(job_id: uuid.UUID, *, attempt: int | None = None) -> Any:
    """Run one attempt of a job's handler the way the worker does (job running, locked by us)."""
    with session() as s:
        job = s.get(Job, job_id)
        assert job is not None
        attempts = attempt if attempt is not None else job.attempts + 1
        job.status, job.locked_by, job.attempts = JobStatus.RUNNING.value, "test", attempts
        job.lease_expires_at = datetime.now(UTC) + timedelta(seconds=60)
    job_type = get_job_type(job.type)
    assert job_type is not None
    ctx = JobContext(
        job_id=job.id,
        user_id=job.user_id,
        type=job.type,
        attempt=attempts,
        max_attempts=job.max_attempts,
        worker="test",
        lease_s=60,
    )
    return job_type.handler(ctx, job_type.payload_model.model_validate(job.payload))


def delivery_row(delivery_id: uuid.UUID) -> WebhookDelivery:
    with session() as s:
        row = s.get(WebhookDelivery, delivery_id)
    assert row is not None
    return row


# --- the URL guard ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://10.0.0.5/hook", "private"),
        ("https://192.168.1.10/hook", "private"),
        ("https://127.0.0.1/hook", "loopback"),
        ("https://[::1]/hook", "loopback"),
        ("https://169.254.169.254/latest/meta-data/", "metadata"),
        ("https://[fd00:ec2::254]/", "metadata"),
        ("https://169.254.10.1/", "link_local"),
        ("https://[::ffff:127.0.0.1]/", "loopback"),
        ("https://100.64.0.1/", "not_global"),
        ("https://224.0.0.1/", "multicast"),
        ("https://0.0.0.0/", "unspecified"),
        ("https://2130706433/", "loopback"),  # 127.0.0.1 as one number
        ("https://localhost/hook", "loopback"),
        ("http://example.com/hook", "scheme"),
        ("ftp://example.com/hook", "scheme"),
        ("https://user:pw@example.com/hook", "credentials"),
        ("https:///nohost", "scheme"),
        ("https://example.com:99999/", "malformed"),
        ("https://exa mple.com/", "malformed"),
    ],
)
def test_the_guard_refuses(url: str, reason: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        outbound.check_webhook_url(url)
    assert refused.value.code == "webhook_url_not_allowed"
    assert refused.value.details["reason"] == reason


def test_one_private_answer_is_enough_to_refuse(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_dns(monkeypatch, {"hooks.example.com": [PUBLIC_IP, "10.1.2.3"]})
    with pytest.raises(InvalidInput) as refused:
        outbound.check_webhook_url("https://hooks.example.com/x")
    assert refused.value.details == {"reason": "private", "host": "hooks.example.com", "address": "10.1.2.3"}


def test_a_public_https_url_passes_with_the_addresses_to_connect_to(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_dns(monkeypatch, {"hooks.example.com": [PUBLIC_IP]})
    checked = outbound.check_webhook_url("https://Hooks.Example.com./x?y=1")
    assert (checked.host, checked.port, checked.addresses, checked.allow_listed) == (
        "hooks.example.com",
        443,
        (PUBLIC_IP,),
        False,
    )


def test_an_unresolvable_host_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_answer(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(outbound, "_resolve", no_answer)
    with pytest.raises(outbound.UnresolvableHost) as refused:
        outbound.check_webhook_url("https://nowhere.invalid/")
    assert refused.value.code == "webhook_url_not_allowed"


def test_allow_listed_hosts_may_be_loopback_and_http_but_never_metadata(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVEYOR_WEBHOOK_ALLOWED_HOSTS", '["127.0.0.1", "169.254.169.254"]')
    reconfigure()
    try:
        checked = outbound.check_webhook_url("http://127.0.0.1:8080/hook")
        assert checked.allow_listed
        assert checked.addresses == ("127.0.0.1",)
        with pytest.raises(InvalidInput, match="non-public"):
            outbound.check_webhook_url("http://169.254.169.254/latest/meta-data/")
        with pytest.raises(InvalidInput):  # only the listed spelling: localhost is another host
            outbound.check_webhook_url("http://localhost:8080/hook")
    finally:
        monkeypatch.delenv("CONVEYOR_WEBHOOK_ALLOWED_HOSTS")
        reconfigure()


def test_job_creation_refuses_a_private_webhook_url_and_writes_nothing(
    aws_env: dict[str, str], alice: TestUser
) -> None:
    with pytest.raises(InvalidInput) as refused:
        create_job(user_id=alice.id, type="email.send", payload=EMAIL, webhook_url="https://10.0.0.1/hook")
    assert refused.value.code == "webhook_url_not_allowed"
    with session() as s:
        assert s.scalar(select(func.count()).select_from(Job)) == 0


# --- delivery ---------------------------------------------------------------------------------------------------


def test_a_delivery_is_signed_and_verifies_with_standardwebhooks(
    loopback_allowed: None, alice: TestUser, receiver: Receiver
) -> None:
    created = alice.client.post("/v1/webhooks/secret")
    assert created.status == 201, created.body
    secret = created.json["secret"]
    assert secret.startswith("whsec_")

    delivery = finished_job(alice, receiver.url)
    deliver = deliver_job(delivery.id)
    assert deliver.user_id == alice.id
    assert deliver.webhook_url is None
    result = run(deliver.id)
    assert result == {"delivery_id": str(delivery.id), "status": "delivered", "response_status": 200}

    [(path, headers, body)] = receiver.requests
    assert path == "/hooks/conveyor?source=test"
    assert headers["webhook-id"] == str(delivery.id)
    assert headers["content-type"] == "application/json"
    event = Webhook(secret).verify(body, headers)
    assert event["type"] == "job.completed"
    assert event["data"]["id"] == str(delivery.job_id)
    assert event["data"]["status"] == "completed"
    assert event["data"]["result"] == {"message_id": "m-1"}
    assert event["data"]["counts"] == {"total": 0, "success": 0, "failure": 0, "skip": 0}
    assert event["data"]["timings"]["finished_at"].endswith("Z")

    row = delivery_row(delivery.id)
    assert (row.status, row.attempts, row.response_status, row.last_error) == ("delivered", 1, 200, None)
    assert row.delivered_at is not None
    assert row.next_attempt_at is None

    listed = alice.client.get(f"/v1/jobs/{delivery.job_id}/webhooks")
    assert listed.status == 200, listed.body
    [item] = listed.json["items"]
    assert item["id"] == str(delivery.id)
    assert (item["status"], item["attempts"], item["response_status"], item["event"]) == (
        "delivered",
        1,
        200,
        "job.completed",
    )
    assert secret not in listed.body.decode()

    # A second run of the same delivery (a duplicate job) sends nothing.
    assert run(deliver.id)["skipped"] is True
    assert len(receiver.requests) == 1


def test_a_5xx_retries_and_a_4xx_fails_for_good(loopback_allowed: None, alice: TestUser, receiver: Receiver) -> None:
    delivery = finished_job(alice, receiver.url, status=JobStatus.FAILED)
    deliver = deliver_job(delivery.id)
    receiver.statuses = [500, 400]

    with pytest.raises(webhooks.DeliveryAttemptFailed, match="HTTP 500"):
        run(deliver.id)
    row = delivery_row(delivery.id)
    assert (row.status, row.attempts, row.response_status) == ("pending", 1, 500)
    assert row.last_error == "HTTP 500: nope"
    assert row.next_attempt_at is not None
    assert row.next_attempt_at > datetime.now(UTC)

    with pytest.raises(NonRetryable, match="HTTP 400"):
        run(deliver.id)
    row = delivery_row(delivery.id)
    assert (row.status, row.attempts, row.response_status, row.next_attempt_at) == ("failed", 2, 400, None)

    # Same webhook-id on both attempts, each with its own valid signature.
    assert [h["webhook-id"] for _, h, _ in receiver.requests] == [str(delivery.id)] * 2
    secret = vault.decrypt_for_job(alice.id, provider=webhooks.SECRET_PROVIDER).secret
    for _, headers, body in receiver.requests:
        assert Webhook(secret).verify(body, headers)["type"] == "job.failed"

    listed = alice.client.get(f"/v1/jobs/{delivery.job_id}/webhooks").json["items"]
    assert [(d["status"], d["attempts"], d["response_status"]) for d in listed] == [("failed", 2, 400)]


@pytest.mark.parametrize("status", [408, 429, 503, 302])
def test_retryable_answers_and_redirects_are_not_followed(
    loopback_allowed: None, alice: TestUser, receiver: Receiver, status: int
) -> None:
    delivery = finished_job(alice, receiver.url)
    receiver.statuses = [status]
    with pytest.raises(webhooks.DeliveryAttemptFailed):
        run(deliver_job(delivery.id).id)
    assert len(receiver.requests) == 1  # a 302 is not followed
    row = delivery_row(delivery.id)
    assert (row.status, row.response_status) == ("pending", status)


def test_the_last_attempt_fails_the_delivery(loopback_allowed: None, alice: TestUser, receiver: Receiver) -> None:
    delivery = finished_job(alice, receiver.url)
    deliver = deliver_job(delivery.id)
    receiver.statuses = [502]
    with pytest.raises(webhooks.DeliveryAttemptFailed):
        run(deliver.id, attempt=deliver.max_attempts)
    row = delivery_row(delivery.id)
    assert (row.status, row.response_status, row.next_attempt_at) == ("failed", 502, None)


def test_timeouts_and_refused_connections_retry(
    loopback_allowed: None, alice: TestUser, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(webhooks, "TIMEOUT_S", 0.3)
    receiver.delay_s = 1.0
    slow = finished_job(alice, receiver.url)
    with pytest.raises(webhooks.DeliveryAttemptFailed, match="timed out"):
        run(deliver_job(slow.id).id)
    assert delivery_row(slow.id).status == "pending"

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    refused = finished_job(alice, f"http://127.0.0.1:{port}/hook")
    with pytest.raises(webhooks.DeliveryAttemptFailed, match="connection failed"):
        run(deliver_job(refused.id).id)
    row = delivery_row(refused.id)
    assert (row.status, row.attempts, row.response_status) == ("pending", 1, None)


def test_dns_rebinding_is_caught_before_the_delivery(
    aws_env: dict[str, str], alice: TestUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_dns(monkeypatch, {"hooks.example.com": [PUBLIC_IP]})
    delivery = finished_job(alice, "https://hooks.example.com/x")
    fake_dns(monkeypatch, {"hooks.example.com": ["10.0.0.7"]})  # the name now points inside
    with pytest.raises(NonRetryable, match="refused"):
        run(deliver_job(delivery.id).id)
    row = delivery_row(delivery.id)
    assert row.status == "failed"
    assert "private" in (row.last_error or "")


def test_the_connection_goes_to_the_checked_address(
    loopback_allowed: None, alice: TestUser, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The guard's answer is what we connect to: a later lookup (rebinding) cannot redirect the request."""
    port = receiver.url.split(":")[2].split("/")[0]
    monkeypatch.setenv("CONVEYOR_WEBHOOK_ALLOWED_HOSTS", '["hooks.test"]')
    reconfigure()
    fake_dns(monkeypatch, {"hooks.test": ["127.0.0.1"]})
    delivery = finished_job(alice, f"http://hooks.test:{port}/pinned")

    def no_second_lookup(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the host was resolved twice")

    real = socket.getaddrinfo
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, *a, **kw: no_second_lookup() if host == "hooks.test" else real(host, *a, **kw),
    )
    run(deliver_job(delivery.id).id)
    [(path, headers, _)] = receiver.requests
    assert path == "/pinned"
    assert headers["host"] == f"hooks.test:{port}"


def test_a_transient_dns_failure_retries(
    aws_env: dict[str, str], alice: TestUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_dns(monkeypatch, {"hooks.example.com": [PUBLIC_IP]})
    delivery = finished_job(alice, "https://hooks.example.com/x")

    def no_answer(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(outbound, "_resolve", no_answer)
    with pytest.raises(webhooks.DeliveryAttemptFailed, match="did not resolve"):
        run(deliver_job(delivery.id).id)
    assert delivery_row(delivery.id).status == "pending"


def test_nobody_can_run_a_delivery_of_someone_elses_job(
    loopback_allowed: None, alice: TestUser, bob: TestUser, receiver: Receiver
) -> None:
    delivery = finished_job(alice, receiver.url)
    stolen = create_job(
        user_id=bob.id, type=webhooks.DELIVER_TYPE, payload={"delivery_id": str(delivery.id)}, origin=Origin.SYSTEM
    ).job
    with pytest.raises(NonRetryable, match="no such webhook delivery"):
        run(stolen.id)
    assert receiver.requests == []
    assert delivery_row(delivery.id).attempts == 0


def test_nothing_is_queued_without_a_url_or_for_deliveries(aws_env: dict[str, str], alice: TestUser) -> None:
    job = create_job(user_id=alice.id, type="email.send", payload=EMAIL).job
    with session() as s:
        assert webhooks.enqueue_delivery(s, job, "job.completed") is None
        deliver = create_job(
            user_id=alice.id, type=webhooks.DELIVER, payload={"delivery_id": str(uuid.uuid4())}, s=s
        ).job
        deliver.webhook_url = "https://hooks.example.com/x"  # never set in practice; ignored all the same
        assert webhooks.enqueue_delivery(s, deliver, "job.failed") is None
        assert s.scalar(select(func.count()).select_from(WebhookDelivery)) == 0


# --- the signing secret and the API ------------------------------------------------------------------------------


def test_the_secret_is_shown_once_and_rotation_replaces_it(aws_env: dict[str, str], alice: TestUser) -> None:
    assert alice.client.get("/v1/webhooks/secret").json == {
        "configured": False,
        "id": None,
        "last4": None,
        "created_at": None,
    }
    first = alice.client.post("/v1/webhooks/secret")
    assert first.status == 201
    shown = alice.client.get("/v1/webhooks/secret")
    assert shown.status == 200
    assert shown.json["configured"] is True
    assert shown.json["id"] == first.json["id"]
    assert "secret" not in shown.json
    assert first.json["secret"] not in shown.body.decode()

    second = alice.client.post("/v1/webhooks/secret")
    assert second.status == 201
    assert second.json["secret"] != first.json["secret"]
    assert alice.client.get("/v1/webhooks/secret").json["id"] == second.json["id"]
    with session() as s:
        rows = s.scalars(select(Credential).where(Credential.provider == webhooks.SECRET_PROVIDER)).all()
    assert [(r.id, r.is_default) for r in rows] == [(uuid.UUID(second.json["id"]), True)]
    assert vault.decrypt_for_job(alice.id, provider=webhooks.SECRET_PROVIDER).secret == second.json["secret"]


def test_the_first_delivery_creates_a_secret_and_rotation_signs_retries_anew(
    loopback_allowed: None, alice: TestUser, receiver: Receiver
) -> None:
    delivery = finished_job(alice, receiver.url)
    deliver = deliver_job(delivery.id)
    receiver.statuses = [500]
    with pytest.raises(webhooks.DeliveryAttemptFailed):
        run(deliver.id)
    assert alice.client.get("/v1/webhooks/secret").json["configured"] is True  # made, never shown

    rotated = alice.client.post("/v1/webhooks/secret").json["secret"]
    run(deliver.id)
    _, headers, body = receiver.requests[-1]
    assert Webhook(rotated).verify(body, headers)["data"]["id"] == str(delivery.job_id)
    assert delivery_row(delivery.id).status == WebhookStatus.DELIVERED.value


def test_deliveries_are_scoped_to_the_jobs_owner(
    loopback_allowed: None, alice: TestUser, bob: TestUser, receiver: Receiver
) -> None:
    delivery = finished_job(alice, receiver.url)
    assert alice.client.get(f"/v1/jobs/{delivery.job_id}/webhooks").status == 200
    intruder = bob.client.get(f"/v1/jobs/{delivery.job_id}/webhooks")
    missing = bob.client.get(f"/v1/jobs/{uuid.uuid4()}/webhooks")
    assert (intruder.status, intruder.error_code) == (404, "not_found")
    assert (missing.status, missing.json) == (404, intruder.json)
    assert alice.client.get("/v1/jobs/not-a-uuid/webhooks").status == 422


# --- end to end with the worker's runner --------------------------------------------------------------------------


def test_end_to_end_a_finished_job_calls_its_webhook(
    loopback_allowed: None, alice: TestUser, receiver: Receiver
) -> None:
    runner = pytest.importorskip("shared.jobs.runner")
    secret = alice.client.post("/v1/webhooks/secret").json["secret"]
    job = create_job(user_id=alice.id, type="email.send", payload=EMAIL, webhook_url=receiver.url).job

    first = runner.run_batch(5, worker="e2e", remaining_ms=lambda: 60_000)
    assert [o.status for o in first.outcomes] == ["completed"]
    [delivery] = alice.client.get(f"/v1/jobs/{job.id}/webhooks").json["items"]
    assert delivery["status"] == "pending"

    second = runner.run_batch(5, worker="e2e", remaining_ms=lambda: 60_000)
    assert [(o.type, o.status) for o in second.outcomes] == [(webhooks.DELIVER_TYPE, "completed")]
    [(_, headers, body)] = receiver.requests
    event = Webhook(secret).verify(body, headers)
    assert (event["type"], event["data"]["id"], event["data"]["status"]) == ("job.completed", str(job.id), "completed")
    assert event["data"]["result"]["message_id"]
    [delivery] = alice.client.get(f"/v1/jobs/{job.id}/webhooks").json["items"]
    assert (delivery["status"], delivery["attempts"], delivery["response_status"]) == ("delivered", 1, 200)
