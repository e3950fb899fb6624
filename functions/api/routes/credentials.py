"""`/v1/credentials`: the vault's API. Secrets go in and never come out: responses carry metadata and last4 only.

Job handlers read secrets with `shared.identity.vault.decrypt_for_job`; no route calls it.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from functions.api.auth import caller
from functions.api.responses import extra
from shared.identity import vault
from shared.identity.schemas import (
    CredentialCreate,
    CredentialList,
    CredentialOut,
    CredentialUpdate,
)

router = Router()


@router.post(
    "/v1/credentials",
    tags=["credentials"],
    summary="Store a provider API key or OAuth token",
    responses=extra(201, 409),
)
def create_credential(body: CredentialCreate) -> tuple[CredentialOut, int]:
    row = vault.store_credential(caller().user_id, **body.model_dump())
    return CredentialOut.model_validate(row), 201


@router.get("/v1/credentials", tags=["credentials"], summary="List your credentials (metadata only)")
def list_credentials(
    provider: Annotated[str | None, Query(pattern=vault.PROVIDER_PATTERN)] = None,
) -> CredentialList:
    rows = vault.list_credentials(caller().user_id, provider=provider)
    return CredentialList(items=[CredentialOut.model_validate(r) for r in rows])


@router.get("/v1/credentials/<credential_id>", tags=["credentials"], summary="One credential (metadata only)")
def get_credential(credential_id: uuid.UUID) -> CredentialOut:
    return CredentialOut.model_validate(vault.get_credential(caller().user_id, credential_id))


@router.patch(
    "/v1/credentials/<credential_id>",
    tags=["credentials"],
    summary="Rename or make the default",
    responses=extra(200, 409),
)
def update_credential(credential_id: uuid.UUID, body: CredentialUpdate) -> CredentialOut:
    label = body.label if "label" in body.model_fields_set else vault.UNSET
    row = vault.update_credential(caller().user_id, credential_id, label=label, is_default=body.is_default)
    return CredentialOut.model_validate(row)


@router.delete(
    "/v1/credentials/<credential_id>", tags=["credentials"], summary="Delete a credential", responses=extra(204)
)
def delete_credential(credential_id: uuid.UUID) -> Response[None]:
    vault.delete_credential(caller().user_id, credential_id)
    return Response(status_code=204)
