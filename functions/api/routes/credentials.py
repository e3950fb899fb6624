"""`/v1/credentials`: the vault's API. Secrets go in and never come out: responses carry metadata and last4 only.

Job handlers read secrets with `shared.identity.vault.decrypt_for_job`; no route calls it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from functions.api.auth import caller
from shared.identity import vault

router = Router()

Provider = Annotated[
    str,
    Field(pattern=vault.PROVIDER_PATTERN, description="Lower-case provider id, e.g. `openai`, `deviantart`."),
]
Label = Annotated[str, Field(min_length=1, max_length=100)]
SecretText = Annotated[str, Field(min_length=1, max_length=vault.MAX_SECRET_CHARS)]


class CredentialCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: Provider
    label: Label | None = None
    secret: SecretText = Field(description="The API key or OAuth access token. Write-only: never returned.")
    expires_at: AwareDatetime | None = None
    refresh_token: SecretText | None = Field(default=None, description="OAuth refresh token. Write-only.")
    refresh_expires_at: AwareDatetime | None = None
    provider_account_id: Annotated[str, Field(min_length=1, max_length=255)] | None = Field(
        default=None, description="The account at the provider (a linked OAuth account); unique per provider."
    )
    scope: Annotated[str, Field(max_length=2000)] | None = None
    token_type: Annotated[str, Field(min_length=1, max_length=40)] | None = None
    is_default: bool | None = Field(
        default=None, description="Make this the provider's default. The first credential of a provider always is."
    )


class CredentialUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: Label | None = None
    is_default: bool | None = Field(default=None, description="`true` makes this the provider's default.")


class CredentialOut(BaseModel):
    """What the API shows of a credential: never the secret, the ciphertext or any key material."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    provider: str
    label: str | None
    kind: str
    last4: str | None = Field(description="Last 4 characters of the secret; empty for secrets under 8 characters.")
    is_default: bool
    expires_at: datetime | None
    refresh_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime


class CredentialList(BaseModel):
    items: list[CredentialOut]


@router.post("/v1/credentials", tags=["credentials"], summary="Store a provider API key or OAuth token")
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


@router.patch("/v1/credentials/<credential_id>", tags=["credentials"], summary="Rename or make the default")
def update_credential(credential_id: uuid.UUID, body: CredentialUpdate) -> CredentialOut:
    label = body.label if "label" in body.model_fields_set else vault.UNSET
    row = vault.update_credential(caller().user_id, credential_id, label=label, is_default=body.is_default)
    return CredentialOut.model_validate(row)


@router.delete("/v1/credentials/<credential_id>", tags=["credentials"], summary="Delete a credential")
def delete_credential(credential_id: uuid.UUID) -> Response[None]:
    vault.delete_credential(caller().user_id, credential_id)
    return Response(status_code=204)
