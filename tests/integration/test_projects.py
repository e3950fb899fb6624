"""Projects through the API: CRUD scoped to the owner, validation, and deletion guarded by active jobs."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import select

from shared.db import session
from shared.db.enums import ACTIVE_JOB_STATUSES, JobStatus
from shared.db.models import Job, MediaFile, Project

FINISHED_STATUSES = [s for s in JobStatus if s not in ACTIVE_JOB_STATUSES]


def add_job(user_id: uuid.UUID, project_id: str, status: str) -> uuid.UUID:
    with session() as s:
        job = Job(user_id=user_id, project_id=uuid.UUID(project_id), type="transcribe", status=status)
        s.add(job)
        s.flush()
        return job.id


def add_media(user_id: uuid.UUID, project_id: str) -> uuid.UUID:
    with session() as s:
        media = MediaFile(
            user_id=user_id, project_id=uuid.UUID(project_id), bucket="b", key=f"k/{uuid.uuid4()}", region="us-east-1"
        )
        s.add(media)
        s.flush()
        return media.id


def test_a_project_is_created_read_updated_and_deleted(alice) -> None:  # type: ignore[no-untyped-def]
    # When alice creates a project
    created = alice.client.post("/v1/projects", json_body={"name": "  Dubbing  ", "description": "Season 1"})

    # Then it is returned with its id, trimmed name and timestamps
    assert created.status == 201, created.json
    project = created.json
    assert (project["name"], project["description"], project["archived_at"]) == ("Dubbing", "Season 1", None)
    path = f"/v1/projects/{project['id']}"
    assert alice.client.get(path).json == project

    # When she renames it and clears the description
    patched = alice.client.patch(path, json_body={"name": "Dubbing S1", "description": None})
    assert patched.status == 200
    assert (patched.json["name"], patched.json["description"]) == ("Dubbing S1", None)
    # And an empty PATCH changes nothing
    assert alice.client.patch(path, json_body={}).json["name"] == "Dubbing S1"

    # When she deletes it, Then it is gone
    assert alice.client.delete(path).status == 204
    assert (alice.client.get(path).status, alice.client.get(path).error_code) == (404, "not_found")
    assert alice.client.delete(path).status == 404


def test_projects_are_listed_newest_first_in_pages(alice) -> None:  # type: ignore[no-untyped-def]
    # Given five projects
    ids = [alice.client.post("/v1/projects", json_body={"name": f"P{i}"}).json["id"] for i in range(5)]

    # When they are listed two at a time
    first = alice.client.get("/v1/projects", query={"limit": "2"}).json
    second = alice.client.get("/v1/projects", query={"limit": "2", "offset": str(first["next_offset"])}).json
    last = alice.client.get("/v1/projects", query={"limit": "2", "offset": str(second["next_offset"])}).json

    # Then they come newest first, and the last page says there is no next one
    listed = [p["id"] for page in (first, second, last) for p in page["items"]]
    assert listed == list(reversed(ids))
    assert last["next_offset"] is None


def test_archived_projects_are_hidden_unless_asked_for(alice) -> None:  # type: ignore[no-untyped-def]
    kept = alice.client.post("/v1/projects", json_body={"name": "Active"}).json
    archived = alice.client.post("/v1/projects", json_body={"name": "Old"}).json

    response = alice.client.patch(f"/v1/projects/{archived['id']}", json_body={"archived": True})
    assert response.json["archived_at"] is not None

    assert [p["id"] for p in alice.client.get("/v1/projects").json["items"]] == [kept["id"]]
    everything = alice.client.get("/v1/projects", query={"include_archived": "true"}).json["items"]
    assert {p["id"] for p in everything} == {kept["id"], archived["id"]}
    restored = alice.client.patch(f"/v1/projects/{archived['id']}", json_body={"archived": False})
    assert restored.json["archived_at"] is None


def test_another_users_project_is_not_found(alice, bob) -> None:  # type: ignore[no-untyped-def]
    # Given alice's project
    project = alice.client.post("/v1/projects", json_body={"name": "Private"}).json
    path = f"/v1/projects/{project['id']}"

    # When bob reads, changes or deletes it, Then it does not exist for him
    for response in (
        bob.client.get(path),
        bob.client.patch(path, json_body={"name": "Taken"}),
        bob.client.delete(path),
    ):
        assert (response.status, response.error_code) == (404, "not_found")
    assert bob.client.get("/v1/projects").json["items"] == []
    # And it is unchanged for alice
    assert alice.client.get(path).json["name"] == "Private"


@pytest.mark.parametrize(
    ("method", "body"),
    [
        ("post", {"name": ""}),
        ("post", {"name": "   "}),
        ("post", {"name": "n" * 201}),
        ("post", {}),
        ("post", {"name": "ok", "owner": "someone"}),
        ("post", {"name": "ok", "description": "d" * 5001}),
        ("patch", {"name": ""}),
        ("patch", {"name": "n" * 201}),
        ("patch", {"name": None}),
    ],
)
def test_invalid_projects_are_refused_with_422_and_change_nothing(alice, method: str, body: dict[str, Any]) -> None:  # type: ignore[no-untyped-def]
    existing = alice.client.post("/v1/projects", json_body={"name": "Original"}).json
    path = "/v1/projects" if method == "post" else f"/v1/projects/{existing['id']}"

    response = getattr(alice.client, method)(path, json_body=body)

    assert response.status == 422
    assert response.error_code in {"validation_failed", "invalid_input"}
    with session() as s:
        assert [p.name for p in s.scalars(select(Project))] == ["Original"]


def test_bad_ids_and_paging_parameters_are_422(alice) -> None:  # type: ignore[no-untyped-def]
    assert alice.client.get("/v1/projects/not-a-uuid").status == 422
    assert alice.client.get("/v1/projects", query={"limit": "0"}).status == 422
    assert alice.client.get("/v1/projects", query={"limit": "101"}).status == 422
    assert alice.client.get("/v1/projects", query={"offset": "-1"}).status == 422


@pytest.mark.parametrize("status", [s.value for s in ACTIVE_JOB_STATUSES])
def test_a_project_with_an_active_job_cannot_be_deleted(alice, status: str) -> None:  # type: ignore[no-untyped-def]
    # Given a project with a job that may still run
    project = alice.client.post("/v1/projects", json_body={"name": "Busy"}).json
    add_job(alice.id, project["id"], status)

    # When alice deletes it
    response = alice.client.delete(f"/v1/projects/{project['id']}")

    # Then it is refused with a clear error and the project stays
    assert (response.status, response.error_code) == (409, "project_has_active_jobs")
    assert response.json["error"]["details"] == {"active_jobs": 1}
    assert alice.client.get(f"/v1/projects/{project['id']}").status == 200


def test_a_project_whose_jobs_are_finished_is_deleted_and_its_jobs_and_media_are_kept(alice) -> None:  # type: ignore[no-untyped-def]
    # Given a project with finished jobs of every kind and a media file
    project = alice.client.post("/v1/projects", json_body={"name": "Done"}).json
    job_ids = [add_job(alice.id, project["id"], s.value) for s in FINISHED_STATUSES]
    media_id = add_media(alice.id, project["id"])

    # When alice deletes it
    assert alice.client.delete(f"/v1/projects/{project['id']}").status == 204

    # Then the jobs and the media file remain, no longer in a project
    with session() as s:
        jobs = list(s.scalars(select(Job).where(Job.id.in_(job_ids))))
        media = s.get(MediaFile, media_id)
    assert len(jobs) == len(FINISHED_STATUSES)
    assert all(job.project_id is None for job in jobs)
    assert media is not None
    assert media.project_id is None


def test_another_users_active_job_does_not_block_nor_leak(alice, bob) -> None:  # type: ignore[no-untyped-def]
    # Given bob's running job in bob's project, and alice's idle project
    bobs = bob.client.post("/v1/projects", json_body={"name": "Bob's"}).json
    add_job(bob.id, bobs["id"], JobStatus.RUNNING.value)
    alices = alice.client.post("/v1/projects", json_body={"name": "Alice's"}).json

    # Then alice's project deletes, and bob's cannot be deleted by alice (not found, not a conflict)
    assert alice.client.delete(f"/v1/projects/{alices['id']}").status == 204
    assert alice.client.delete(f"/v1/projects/{bobs['id']}").status == 404
