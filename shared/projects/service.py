"""Projects: create, list, rename, archive and delete — always within the caller's own projects.

Media files, jobs and content items reference a project with ON DELETE SET NULL: deleting a project keeps
them, unassigned. Deleting is refused while one of its jobs may still run (a job would finish into a project
that no longer exists); archiving hides a project without touching anything.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared.db import session
from shared.db.enums import ACTIVE_JOB_STATUSES
from shared.db.models import Job, Project
from shared.errors import Conflict, InvalidInput, NotFound

MAX_NAME_CHARS = 200
MAX_DESCRIPTION_CHARS = 5000
MAX_PAGE = 100


class Unset(Enum):
    """Marks an argument the caller left out, where None is a meaningful value."""

    UNSET = "unset"


UNSET = Unset.UNSET


@dataclass(frozen=True)
class ProjectPage:
    items: list[Project]
    next_offset: int | None


def _clean_name(name: str | None) -> str:
    name = (name or "").strip()
    if not 1 <= len(name) <= MAX_NAME_CHARS:
        raise InvalidInput(f"A project name is 1-{MAX_NAME_CHARS} characters.", details={"field": "name"})
    return name


def _check_description(description: str | None) -> None:
    if description is not None and len(description) > MAX_DESCRIPTION_CHARS:
        raise InvalidInput(
            f"A description is at most {MAX_DESCRIPTION_CHARS} characters.", details={"field": "description"}
        )


def owned_project(s: Session, user_id: uuid.UUID, project_id: uuid.UUID, *, lock: bool = False) -> Project:
    """The caller's project, or NotFound (another user's id answers the same as a missing one).

    Other services (media, jobs) call this before attaching something to a project. With `lock`, the row is
    held FOR UPDATE until the transaction ends.
    """
    query = select(Project).where(Project.id == project_id, Project.user_id == user_id)
    project = s.scalar(query.with_for_update() if lock else query)
    if project is None:
        raise NotFound("No such project.")
    return project


def create_project(user_id: uuid.UUID, *, name: str, description: str | None = None) -> Project:
    name = _clean_name(name)
    _check_description(description)
    with session() as s:
        project = Project(user_id=user_id, name=name, description=description)
        s.add(project)
        s.flush()
        s.refresh(project)
    return project


def list_projects(
    user_id: uuid.UUID, *, limit: int = 50, offset: int = 0, include_archived: bool = False
) -> ProjectPage:
    """Newest first; one row more than asked is read to know whether a next page exists."""
    if not 1 <= limit <= MAX_PAGE or offset < 0:
        raise InvalidInput(f"limit is 1-{MAX_PAGE} and offset at least 0.")
    query = select(Project).where(Project.user_id == user_id)
    if not include_archived:
        query = query.where(Project.archived_at.is_(None))
    query = query.order_by(Project.created_at.desc(), Project.id.desc()).offset(offset).limit(limit + 1)
    with session() as s:
        rows = list(s.scalars(query))
    return ProjectPage(items=rows[:limit], next_offset=offset + limit if len(rows) > limit else None)


def get_project(user_id: uuid.UUID, project_id: uuid.UUID) -> Project:
    with session() as s:
        return owned_project(s, user_id, project_id)


def update_project(
    user_id: uuid.UUID,
    project_id: uuid.UUID,
    *,
    name: str | Unset | None = UNSET,
    description: str | Unset | None = UNSET,
    archived: bool | None = None,
) -> Project:
    """Rename (a name cannot be None), describe (None clears), archive or restore; UNSET leaves a field as it is."""
    if not isinstance(name, Unset):
        name = _clean_name(name)
    if not isinstance(description, Unset):
        _check_description(description)
    with session() as s:
        project = owned_project(s, user_id, project_id, lock=True)
        if not isinstance(name, Unset):
            project.name = name
        if not isinstance(description, Unset):
            project.description = description
        if archived is True and project.archived_at is None:
            project.archived_at = datetime.now(UTC)
        elif archived is False:
            project.archived_at = None
        s.flush()
        s.refresh(project)
    return project


def delete_project(user_id: uuid.UUID, project_id: uuid.UUID) -> None:
    """Delete the project unless one of its jobs is still active; its media and other jobs become unassigned.

    The project row is locked FOR UPDATE before the jobs are checked. Inserting a job that references the
    project takes a FOR KEY SHARE lock on it (the foreign key check), which conflicts: a job created
    concurrently either commits first and is seen by the check, or waits and then fails its foreign key.
    """
    with session() as s:
        project = owned_project(s, user_id, project_id, lock=True)
        active = s.scalar(
            select(func.count())
            .select_from(Job)
            .where(Job.project_id == project.id, Job.status.in_([st.value for st in ACTIVE_JOB_STATUSES]))
        )
        if active:
            raise Conflict(
                "This project still has active jobs; cancel them or wait for them to finish before deleting it.",
                code="project_has_active_jobs",
                details={"active_jobs": active},
            )
        s.delete(project)
