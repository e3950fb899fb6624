"""`/v1/admin/api-keys`: the admin's view of every user's keys, and revoking a named key for everyone.

Seed 000's named tokens (`Token` with a unique name and `until`, granted to users by `UserToken`) are API keys
that share a name: the holders of a token are the users with a key of that name (docs/data-model.md).
Admin-only by path (functions/api/auth.py): a member gets 403 before these handlers run.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from functions.api.params import Cursor
from shared.identity import api_keys
from shared.identity.schemas import ApiKeyOut, HeldApiKeyList, HeldApiKeyOut, KeyName, NamedKeyRevoke, NamedKeyRevoked

router = Router()


def _out(held: api_keys.HeldKey) -> HeldApiKeyOut:
    key = held.key
    return HeldApiKeyOut(**ApiKeyOut.model_validate(key).model_dump(), user_id=key.user_id, user_email=held.email)


@router.get(
    "/v1/admin/api-keys",
    tags=["admin"],
    summary="Every user's API keys, newest first: who holds a named key (never the keys themselves)",
)
def list_api_keys(
    name: Annotated[KeyName | None, Query(description="Keys of exactly this name.")] = None,
    user_id: uuid.UUID | None = None,
    active: Annotated[
        bool | None, Query(description="`true`: keys that still work; `false`: revoked or expired ones.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Cursor = None,
) -> HeldApiKeyList:
    page = api_keys.list_all_keys(name=name, user_id=user_id, active=active, limit=limit, cursor=cursor)
    return HeldApiKeyList(items=[_out(h) for h in page.items], next_cursor=page.next_cursor)


@router.post(
    "/v1/admin/api-keys/revoke",
    tags=["admin"],
    summary="Revoke a named key for everyone: every user's unrevoked keys of that name",
)
def revoke_named_api_keys(body: NamedKeyRevoke) -> NamedKeyRevoked:
    items = [_out(h) for h in api_keys.revoke_named(body.name)]
    return NamedKeyRevoked(name=body.name, revoked=len(items), items=items)
