"""`/v1/api-keys`: issue (the full key is in the response once), list, revoke."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from functions.api.auth import caller
from shared.identity import api_keys
from shared.identity.principal import Scope

router = Router()


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=100)]
    scopes: list[Scope] = Field(default_factory=lambda: [Scope.READ, Scope.WRITE])
    until: datetime | None = Field(default=None, description="Expiry; the key stops working after it.")
    test: bool = Field(default=False, description="Issue a `cvk_test_` key instead of `cvk_live_`.")


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    prefix: str
    scopes: list[str]
    until: datetime | None = Field(validation_alias=AliasChoices("expires_at", "until"))
    last_used_at: datetime | None
    revoked_at: datetime | None
    created_at: datetime


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The full key. Shown once: store it now.")


class ApiKeyList(BaseModel):
    items: list[ApiKeyOut]


@router.post("/v1/api-keys", tags=["api keys"], summary="Issue an API key (shown once)")
def create_api_key(body: ApiKeyCreate) -> tuple[ApiKeyCreated, int]:
    principal = caller()
    issued = api_keys.issue_key(
        principal.user_id,
        name=body.name,
        scopes=[s.value for s in body.scopes],
        expires_at=body.until,
        live=not body.test,
        issuer=principal,
    )
    return ApiKeyCreated(**ApiKeyOut.model_validate(issued.key).model_dump(), key=issued.secret), 201


@router.get("/v1/api-keys", tags=["api keys"], summary="List your API keys (never the keys themselves)")
def list_api_keys() -> ApiKeyList:
    return ApiKeyList(items=[ApiKeyOut.model_validate(k) for k in api_keys.list_keys(caller().user_id)])


@router.delete("/v1/api-keys/<key_id>", tags=["api keys"], summary="Revoke an API key")
def revoke_api_key(key_id: uuid.UUID) -> ApiKeyOut:
    return ApiKeyOut.model_validate(api_keys.revoke_key(caller().user_id, key_id))
