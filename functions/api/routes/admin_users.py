"""`/v1/admin/users` and `/v1/admin/instance-settings`: admins manage accounts and instance switches.

Admin-only by path (functions/api/auth.py): a member gets 403 before these handlers run.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from functions.api.auth import caller
from functions.api.params import Cursor
from functions.api.responses import extra
from shared.db.enums import UserRole
from shared.identity import settings as instance_settings
from shared.identity import users
from shared.identity.schemas import (
    AdminUserCreate,
    AdminUserList,
    AdminUserOut,
    AdminUserPatch,
    InstanceSettingsOut,
    InstanceSettingsPatch,
)

router = Router()


@router.post("/v1/admin/users", tags=["admin"], summary="Create a user", responses=extra(201, 409))
def create_user(body: AdminUserCreate) -> tuple[AdminUserOut, int]:
    user = users.create_user(body.email, name=body.name, role=body.role, password=body.password, verified=body.verified)
    return AdminUserOut.of(user), 201


@router.get("/v1/admin/users", tags=["admin"], summary="List users (oldest first, paginated)")
def list_users(
    role: Annotated[UserRole | None, Query()] = None,
    disabled: Annotated[bool | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Cursor = None,
) -> AdminUserList:
    page = users.list_users(role=role, disabled=disabled, limit=limit, cursor=cursor)
    return AdminUserList(items=[AdminUserOut.of(u) for u in page.items], next_cursor=page.next_cursor)


@router.get("/v1/admin/users/<user_id>", tags=["admin"], summary="One user")
def get_user(user_id: uuid.UUID) -> AdminUserOut:
    return AdminUserOut.of(users.get_user(user_id))


@router.patch("/v1/admin/users/<user_id>", tags=["admin"], summary="Disable, enable or change the role of a user")
def update_user(user_id: uuid.UUID, body: AdminUserPatch) -> AdminUserOut:
    user = users.update_user(caller().user_id, user_id, disabled=body.disabled, role=body.role)
    return AdminUserOut.of(user)


@router.get("/v1/admin/instance-settings", tags=["admin"], summary="Instance switches (e.g. open sign-up)")
def get_instance_settings() -> InstanceSettingsOut:
    return InstanceSettingsOut(**vars(instance_settings.get_instance_settings()))


@router.patch("/v1/admin/instance-settings", tags=["admin"], summary="Change instance switches")
def update_instance_settings(body: InstanceSettingsPatch) -> InstanceSettingsOut:
    config = instance_settings.update_instance_settings(
        signup_enabled=body.signup_enabled, team_invites_enabled=body.team_invites_enabled
    )
    return InstanceSettingsOut(**vars(config))
