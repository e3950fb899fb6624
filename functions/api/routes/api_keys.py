"""`/v1/api-keys`: issue (the full key is in the response once), list, revoke."""

from __future__ import annotations

import uuid

from aws_lambda_powertools.event_handler.api_gateway import Router

from functions.api.auth import caller
from functions.api.responses import extra
from shared.identity import api_keys
from shared.identity.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyList, ApiKeyOut

router = Router()


@router.post("/v1/api-keys", tags=["api keys"], summary="Issue an API key (shown once)", responses=extra(201))
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
