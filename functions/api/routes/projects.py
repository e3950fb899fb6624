"""`/v1/projects`: a user's projects (seed 004). Every route sees the caller's projects only."""

from __future__ import annotations

import uuid
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from functions.api.auth import caller
from functions.api.params import Offset
from functions.api.responses import extra
from shared.projects import service
from shared.projects.schemas import ProjectCreate, ProjectList, ProjectOut, ProjectUpdate

router = Router()


@router.post("/v1/projects", tags=["projects"], summary="Create a project", responses=extra(201))
def create_project(body: ProjectCreate) -> tuple[ProjectOut, int]:
    project = service.create_project(caller().user_id, name=body.name, description=body.description)
    return ProjectOut.model_validate(project), 201


@router.get("/v1/projects", tags=["projects"], summary="List your projects, newest first")
def list_projects(
    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE)] = 50,
    offset: Offset = 0,
    include_archived: Annotated[bool, Query()] = False,
) -> ProjectList:
    page = service.list_projects(caller().user_id, limit=limit, offset=offset, include_archived=include_archived)
    return ProjectList(items=[ProjectOut.model_validate(p) for p in page.items], next_offset=page.next_offset)


@router.get("/v1/projects/<project_id>", tags=["projects"], summary="One project")
def get_project(project_id: uuid.UUID) -> ProjectOut:
    return ProjectOut.model_validate(service.get_project(caller().user_id, project_id))


@router.patch("/v1/projects/<project_id>", tags=["projects"], summary="Rename, describe, archive or restore")
def update_project(project_id: uuid.UUID, body: ProjectUpdate) -> ProjectOut:
    fields = body.model_fields_set
    project = service.update_project(
        caller().user_id,
        project_id,
        name=body.name if "name" in fields else service.UNSET,
        description=body.description if "description" in fields else service.UNSET,
        archived=body.archived,
    )
    return ProjectOut.model_validate(project)


@router.delete(
    "/v1/projects/<project_id>",
    tags=["projects"],
    summary="Delete a project without active jobs",
    responses=extra(204, 409),
)
def delete_project(project_id: uuid.UUID) -> Response[None]:
    service.delete_project(caller().user_id, project_id)
    return Response(status_code=204)
