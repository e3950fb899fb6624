"""The `email.send` job type against moto's SES: sent, rejected for good, throttled and retried, validated."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.stub import Stubber
from moto.core import DEFAULT_ACCOUNT_ID
from sqlalchemy import select

from shared import aws
from shared.db import session
from shared.db.enums import JobStatus
from shared.db.models import Job, JobLog
from shared.errors import InvalidInput
from shared.jobs.builtin.email import SesFailure
from shared.jobs.context import JobContext
from shared.jobs.errors import NonRetryable
from shared.jobs.registry import get_job_type
from shared.jobs.service import create_job
from tests.conftest import reconfigure
from tests.support.users import TestUser

BODY = "The secret plan is in the attachment."


def sent_messages() -> list[Any]:
    from moto.ses.models import ses_backends

    return list(ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages)


def run(job_id: uuid.UUID) -> Any:
    """Run one attempt of the job's handler the way the worker does (job running, locked by us)."""
    with session() as s:
        job = s.get(Job, job_id)
        assert job is not None
        job.status, job.locked_by, job.attempts = JobStatus.RUNNING.value, "test", job.attempts + 1
        job.lease_expires_at = datetime.now(UTC) + timedelta(seconds=60)
    job_type = get_job_type(job.type)
    assert job_type is not None
    ctx = JobContext(
        job_id=job.id,
        user_id=job.user_id,
        type=job.type,
        attempt=job.attempts,
        max_attempts=job.max_attempts,
        worker="test",
        lease_s=60,
    )
    return job_type.handler(ctx, job_type.payload_model.model_validate(job.payload))


def email_job(user: TestUser, **payload: Any) -> uuid.UUID:
    body = {"to": ["carol@example.com"], "subject": "Your export is ready", "text": BODY, **payload}
    return create_job(user_id=user.id, type="email.send", payload=body).job.id


def test_an_email_goes_out_through_ses(aws_env: dict[str, str], alice: TestUser) -> None:
    job_id = email_job(
        alice, to=["carol@example.com", "dave@example.com"], html="<p>ready</p>", reply_to="help@example.com"
    )
    result = run(job_id)
    [message] = sent_messages()
    assert result == {"message_id": message.id}
    assert message.source == aws_env["CONVEYOR_EMAIL_SENDER"]
    assert message.destinations["ToAddresses"] == ["carol@example.com", "dave@example.com"]
    assert message.subject == "Your export is ready"

    with session() as s:
        logs = s.scalars(select(JobLog).where(JobLog.job_id == job_id)).all()
    assert [(log.message, log.data) for log in logs] == [("e-mail sent", {"message_id": message.id, "recipients": 2})]
    assert all(BODY not in f"{log.message}{log.data}" for log in logs)


def test_a_rejected_email_fails_for_good(
    aws_env: dict[str, str], alice: TestUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONVEYOR_EMAIL_SENDER", "unverified@elsewhere.example")
    reconfigure()
    job_id = email_job(alice)
    with pytest.raises(NonRetryable, match="MessageRejected") as failed:
        run(job_id)
    assert failed.value.details is not None
    assert failed.value.details["ses_error"] == "MessageRejected"
    assert BODY not in str(failed.value)
    assert BODY not in str(failed.value.details)
    assert sent_messages() == []


@pytest.fixture
def stubbed_ses(aws_env: dict[str, str], alice: TestUser) -> Iterator[Stubber]:
    """SES answering with canned errors (made after the user fixtures, which re-create the clients)."""
    with Stubber(aws.client("ses")) as stub:
        yield stub


@pytest.mark.parametrize(
    ("code", "status"),
    [("Throttling", 400), ("ServiceUnavailable", 503), ("InternalFailure", 500), ("SomethingNew", 502)],
)
def test_throttling_and_ses_outages_retry(stubbed_ses: Stubber, alice: TestUser, code: str, status: int) -> None:
    stubbed_ses.add_client_error("send_email", service_error_code=code, http_status_code=status)
    job_id = email_job(alice)
    with pytest.raises(SesFailure, match=code) as failed:
        run(job_id)
    assert not isinstance(failed.value, NonRetryable)


@pytest.mark.parametrize("code", ["InvalidParameterValue", "MailFromDomainNotVerifiedException", "AccessDenied"])
def test_permanent_ses_errors_do_not_retry(stubbed_ses: Stubber, alice: TestUser, code: str) -> None:
    stubbed_ses.add_client_error("send_email", service_error_code=code, http_status_code=400)
    with pytest.raises(NonRetryable, match=code):
        run(email_job(alice))


@pytest.mark.parametrize(
    "payload",
    [
        {"to": [], "subject": "s", "text": "t"},
        {"to": [f"u{i}@example.com" for i in range(51)], "subject": "s", "text": "t"},
        {"to": ["not-an-address"], "subject": "s", "text": "t"},
        {"to": ["a@example.com\r\nBcc: x@example.com"], "subject": "s", "text": "t"},
        {"to": ["a@example.com"], "subject": "s\r\nBcc: x@example.com", "text": "t"},
        {"to": ["a@example.com"], "subject": "s" * 201, "text": "t"},
        {"to": ["a@example.com"], "subject": "s", "text": "t" * 100_001},
        {"to": ["a@example.com"], "subject": "s"},
        {"to": ["a@example.com"], "subject": "s", "text": "t", "reply_to": "nobody"},
        {"to": ["a@example.com"], "subject": "s", "text": "t", "cc": ["b@example.com"]},
    ],
)
def test_bad_payloads_are_refused_at_creation(aws_env: dict[str, str], alice: TestUser, payload: dict) -> None:
    with pytest.raises(InvalidInput) as refused:
        create_job(user_id=alice.id, type="email.send", payload=payload)
    assert refused.value.code == "invalid_payload"
