"""`/v1/publishers`: where the caller's items are published (the built-in `webhook` kind, or a deployment's own)."""

from __future__ import annotations

import uuid

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from functions.api.auth import caller
from functions.api.responses import extra
from shared.publishing import service
from shared.publishing.schemas import PublisherCreate, PublisherList, PublisherOut, PublisherUpdate

router = Router()


@router.post("/v1/publishers", tags=["publishers"], summary="Configure a publisher", responses=extra(201))
def create_publisher(body: PublisherCreate) -> tuple[PublisherOut, int]:
    row = service.create_publisher(
        caller().user_id,
        kind=body.kind.value,
        name=body.name,
        endpoint_url=body.endpoint_url,
        credential_id=body.credential_id,
        settings=body.settings,
        enabled=body.enabled,
    )
    return PublisherOut.model_validate(row), 201


@router.get("/v1/publishers", tags=["publishers"], summary="Your publishers, oldest (the default) first")
def list_publishers() -> PublisherList:
    return PublisherList(items=[PublisherOut.model_validate(r) for r in service.list_publishers(caller().user_id)])


@router.get("/v1/publishers/<publisher_id>", tags=["publishers"], summary="One publisher")
def get_publisher(publisher_id: uuid.UUID) -> PublisherOut:
    return PublisherOut.model_validate(service.get_publisher(None, caller().user_id, publisher_id))


@router.patch("/v1/publishers/<publisher_id>", tags=["publishers"], summary="Change a publisher")
def update_publisher(publisher_id: uuid.UUID, body: PublisherUpdate) -> PublisherOut:
    given = body.model_fields_set
    if "name" in given and body.name is None:
        given = given - {"name"}
    if "enabled" in given and body.enabled is None:
        given = given - {"enabled"}
    changes = {k: getattr(body, k) for k in given}
    return PublisherOut.model_validate(service.update_publisher(caller().user_id, publisher_id, **changes))


@router.delete("/v1/publishers/<publisher_id>", tags=["publishers"], summary="Remove a publisher", responses=extra(204))
def delete_publisher(publisher_id: uuid.UUID) -> Response[None]:
    service.delete_publisher(caller().user_id, publisher_id)
    return Response(status_code=204)
