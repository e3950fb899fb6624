"""`POST /v1/jobs/batch`: up to 1,000 jobs in one transaction, all or nothing, idempotent, credits together."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from shared.billing import ledger
from shared.db import session
from shared.db.models import Job
from shared.jobs import wakeups

EMAIL = {"to": ["someone@example.com"], "subject": "hi", "text": "hello"}


@pytest.fixture
def sent():  # type: ignore[no-untyped-def]
    sent: list[wakeups.Wakeup] = []
    previous = wakeups.set_transport(sent.extend)
    yield sent
    wakeups.set_transport(previous)


def jobs_in_db() -> int:
    with session() as s:
        return s.scalar(select(func.count()).select_from(Job)) or 0


def test_a_batch_creates_every_job_and_wakes_a_worker_for_each(alice, sent) -> None:  # type: ignore[no-untyped-def]
    body = {"jobs": [{"type": "email.send", "payload": EMAIL, "name": f"n{i}"} for i in range(3)]}

    response = alice.client.post("/v1/jobs/batch", json_body=body)

    assert response.status == 201, response.body
    assert [job["name"] for job in response.json["items"]] == ["n0", "n1", "n2"]
    assert response.json["created"] == [True, True, True]
    assert {job["status"] for job in response.json["items"]} == {"queued"}
    assert jobs_in_db() == 3
    assert len(sent) == 3


def test_one_bad_job_refuses_the_whole_batch_and_says_which(alice, sent) -> None:  # type: ignore[no-untyped-def]
    body = {"jobs": [{"type": "email.send", "payload": EMAIL}, {"type": "email.send", "payload": {"to": 1}}]}

    response = alice.client.post("/v1/jobs/batch", json_body=body)

    assert response.status == 422, response.body
    assert response.json["error"]["code"] == "invalid_payload"
    assert response.json["error"]["details"]["index"] == 1
    assert jobs_in_db() == 0
    assert sent == []


@pytest.mark.parametrize("internal", ["webhook.deliver", "item.publish", "sale.process", "media.thumbnail"])
def test_a_batch_cannot_name_an_internal_type(alice, sent, internal: str) -> None:  # type: ignore[no-untyped-def]
    body = {"jobs": [{"type": "email.send", "payload": EMAIL}, {"type": internal, "payload": {}}]}

    response = alice.client.post("/v1/jobs/batch", json_body=body)

    assert response.status == 422
    assert response.json["error"]["code"] == "unknown_job_type"
    assert jobs_in_db() == 0


def test_a_foreign_project_in_a_batch_is_a_404_and_nothing_is_created(alice, bob, sent) -> None:  # type: ignore[no-untyped-def]
    bobs = bob.client.post("/v1/projects", json_body={"name": "bob's"}).json["id"]
    body = {
        "jobs": [{"type": "email.send", "payload": EMAIL}, {"type": "email.send", "payload": EMAIL, "project_id": bobs}]
    }

    response = alice.client.post("/v1/jobs/batch", json_body=body)

    assert response.status == 404
    assert jobs_in_db() == 0


def test_the_same_idempotency_key_replays_the_batch_and_a_different_body_conflicts(alice, sent) -> None:  # type: ignore[no-untyped-def]
    body = {"jobs": [{"type": "email.send", "payload": EMAIL} for _ in range(2)]}
    headers = {"Idempotency-Key": "batch-1"}

    first = alice.client.post("/v1/jobs/batch", json_body=body, headers=headers)
    again = alice.client.post("/v1/jobs/batch", json_body=body, headers=headers)
    other = alice.client.post("/v1/jobs/batch", json_body={"jobs": body["jobs"][:1]}, headers=headers)

    assert first.status == again.status == 201
    assert [j["id"] for j in again.json["items"]] == [j["id"] for j in first.json["items"]]
    assert again.json["created"] == [False, False]
    assert other.status == 409
    assert other.json["error"]["code"] == "idempotency_key_reused"
    assert jobs_in_db() == 2


def test_credits_are_reserved_together_or_not_at_all(alice, sent) -> None:  # type: ignore[no-untyped-def]
    # translate.text costs one credit per started 1,000 characters: three jobs need 3 credits
    ledger.grant(alice.id, 2, reason="test")
    job = {"type": "translate.text", "payload": {"texts": ["hello"], "target_language": "fr"}}

    refused = alice.client.post("/v1/jobs/batch", json_body={"jobs": [job] * 3})

    assert refused.status == 402, refused.body
    assert jobs_in_db() == 0
    assert ledger.balance(alice.id).reserved == 0
    accepted = alice.client.post("/v1/jobs/batch", json_body={"jobs": [job] * 2})
    assert accepted.status == 201, accepted.body
    assert ledger.balance(alice.id).reserved == 2


def test_a_batch_holds_at_most_a_thousand_jobs(alice, sent) -> None:  # type: ignore[no-untyped-def]
    job = {"type": "email.send", "payload": EMAIL}

    assert alice.client.post("/v1/jobs/batch", json_body={"jobs": [job] * 1001}).status == 422
    assert alice.client.post("/v1/jobs/batch", json_body={"jobs": []}).status == 422
    assert jobs_in_db() == 0


def test_another_users_parent_cannot_be_named_by_the_service(alice, bob) -> None:  # type: ignore[no-untyped-def]
    from shared.errors import NotFound
    from shared.jobs.admission import JobRequest
    from shared.jobs.service import create_jobs

    bobs = create_jobs(user_id=bob.id, requests=[JobRequest(type="email.send", payload=EMAIL)]).jobs[0]
    with pytest.raises(NotFound):
        create_jobs(user_id=alice.id, requests=[JobRequest(type="email.send", payload=EMAIL, parent_id=bobs.id)])
    with pytest.raises(NotFound):
        create_jobs(user_id=alice.id, requests=[JobRequest(type="email.send", payload=EMAIL, parent_id=uuid.uuid4())])


def test_a_job_created_alone_is_the_row_the_database_holds(alice, sent) -> None:  # type: ignore[no-untyped-def]
    """A free job is one self-committing INSERT returning only the timestamps; the Job the caller gets is built
    from the values sent: it must equal the row, column by column (catches a new column default)."""
    from shared.jobs.service import create_job

    created = create_job(user_id=alice.id, type="email.send", payload=EMAIL, name="alone", dedupe_key="d1").job
    with session() as s:
        stored = s.get(Job, created.id)
        assert stored is not None
        for column in Job.__table__.columns:
            assert getattr(created, column.key) == getattr(stored, column.key), column.key
    again = create_job(user_id=alice.id, type="email.send", payload=EMAIL, dedupe_key="d1")
    assert (again.created, again.job.id) == (False, created.id)


def test_jobs_created_in_a_batch_are_the_rows_the_database_holds(alice, sent) -> None:  # type: ignore[no-untyped-def]
    from shared.jobs.admission import JobRequest
    from shared.jobs.service import create_jobs

    batch = create_jobs(user_id=alice.id, requests=[JobRequest(type="email.send", payload=EMAIL) for _ in range(3)])
    with session() as s:
        for created in batch.jobs:
            stored = s.get(Job, created.id)
            assert stored is not None
            for column in Job.__table__.columns:
                assert getattr(created, column.key) == getattr(stored, column.key), column.key


def test_two_jobs_of_one_batch_with_the_same_dedupe_key_are_one_job(alice, sent) -> None:  # type: ignore[no-untyped-def]
    job = {"type": "email.send", "payload": EMAIL, "dedupe_key": "nightly"}

    response = alice.client.post("/v1/jobs/batch", json_body={"jobs": [job, job]})

    assert response.status == 201, response.body
    first, second = response.json["items"]
    assert first["id"] == second["id"]
    assert response.json["created"] == [True, False]
    assert jobs_in_db() == 1
