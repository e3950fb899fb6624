"""`/v1/admin/users` and `/v1/admin/instance-settings`: admins manage accounts and instance switches.

Admin-only by path (functions/api/auth.py): a member gets 403 before these handlers run.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, ConfigDict, Field

from functions.api.auth import caller
from functions.api.routes.auth import AccountOut
from shared.db.enums import UserRole
from shared.db.models import User
from shared.identity import settings as instance_settings
from shared.identity import users
from shared.identity.passwords import MAX_LENGTH, MIN_LENGTH

router = Router()


class AdminUserOut(AccountOut):
    disabled: bool
    disabled_at: datetime | None
    has_password: bool
    last_login_at: datetime | None

    @classmethod
    def of(cls, user: User) -> AdminUserOut:
        return cls(
            **AccountOut.of(user).model_dump(),
            disabled=user.disabled_at is not None,
            disabled_at=user.disabled_at,
            has_password=user.password_hash is not None,
            last_login_at=user.last_login_at,
        )


class AdminUserList(BaseModel):
    items: list[AdminUserOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class AdminUserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Annotated[str, Field(min_length=3, max_length=320)]
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    role: UserRole = UserRole.MEMBER
    password: Annotated[str, Field(min_length=MIN_LENGTH, max_length=MAX_LENGTH)] | None = Field(
        default=None, description="Optional: without one the user cannot log in (API keys only)."
    )
    verified: bool = Field(default=False, description="Mark the e-mail address as already verified.")


class AdminUserPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    disabled: bool | None = Field(default=None, description="Disabling ends the user's sessions and API key use.")
    role: UserRole | None = None


class InstanceSettingsOut(BaseModel):
    signup_enabled: bool
    team_invites_enabled: bool | None


class InstanceSettingsPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    signup_enabled: bool | None = None
    team_invites_enabled: bool | None = None


@router.post("/v1/admin/users", tags=["admin"], summary="Create a user")
def create_user(body: AdminUserCreate) -> tuple[AdminUserOut, int]:
    user = users.create_user(body.email, name=body.name, role=body.role, password=body.password, verified=body.verified)
    return AdminUserOut.of(user), 201


@router.get("/v1/admin/users", tags=["admin"], summary="List users (oldest first, paginated)")
def list_users(
    role: Annotated[UserRole | None, Query()] = None,
    disabled: Annotated[bool | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
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
