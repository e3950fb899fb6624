"""`/v1/templates`: the caller's reusable tag lists, descriptions, comments and note bodies; applying one to an item."""

from __future__ import annotations

import uuid
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from functions.api.auth import caller
from functions.api.params import Offset
from functions.api.responses import extra
from shared.db.enums import TemplateType
from shared.publishing import templates as service
from shared.publishing.schemas import ItemOut
from shared.publishing.template_schemas import (
    ApplyTemplate,
    TemplateCreate,
    TemplateList,
    TemplateOut,
    TemplateUpdate,
)

router = Router()


@router.post("/v1/templates", tags=["templates"], summary="Create a template", responses=extra(201))
def create_template(body: TemplateCreate) -> tuple[TemplateOut, int]:
    template = service.create_template(
        caller().user_id, template_type=body.type, name=body.name, content=body.content.model_dump()
    )
    return TemplateOut.model_validate(template), 201


@router.get("/v1/templates", tags=["templates"], summary="List your templates by name, optionally of one type")
def list_templates(
    type: TemplateType | None = None,
    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE)] = 50,
    offset: Offset = 0,
) -> TemplateList:
    page = service.list_templates(caller().user_id, template_type=type, limit=limit, offset=offset)
    return TemplateList(items=[TemplateOut.model_validate(t) for t in page.items], next_offset=page.next_offset)


@router.get("/v1/templates/<template_id>", tags=["templates"], summary="One template")
def get_template(template_id: uuid.UUID) -> TemplateOut:
    return TemplateOut.model_validate(service.get_template(caller().user_id, template_id))


@router.patch("/v1/templates/<template_id>", tags=["templates"], summary="Rename a template or replace its content")
def update_template(template_id: uuid.UUID, body: TemplateUpdate) -> TemplateOut:
    template = service.update_template(
        caller().user_id,
        template_id,
        name=body.name,
        content=body.content.model_dump() if body.content is not None else None,
    )
    return TemplateOut.model_validate(template)


@router.delete("/v1/templates/<template_id>", tags=["templates"], summary="Delete a template", responses=extra(204))
def delete_template(template_id: uuid.UUID) -> Response[None]:
    service.delete_template(caller().user_id, template_id)
    return Response(status_code=204)


@router.post(
    "/v1/items/<item_id>/apply-template",
    tags=["items", "templates"],
    summary="Copy a tag template's tags or a description template's text onto an item",
    responses=extra(200, 409),
)
def apply_template(item_id: uuid.UUID, body: ApplyTemplate) -> ItemOut:
    return ItemOut.of(service.apply_to_item(caller().user_id, item_id, body.template_id))
