"""`/v1/me`: the caller's account, profile and preferences (read and partial update)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from pydantic import BaseModel, ConfigDict, Field

from functions.api.auth import caller
from shared.db.enums import Theme
from shared.identity import users

router = Router()


class Profile(BaseModel):
    bio: str | None = None
    city: str | None = None
    region: str | None = None
    country: str | None = None
    postal_code: str | None = None
    latitude: float | None = None
    longitude: float | None = None


class MeOut(BaseModel):
    id: uuid.UUID
    email: str | None
    name: str | None
    role: str
    is_verified: bool = Field(description="True once the e-mail address was confirmed with the link sent to it.")
    timezone: str
    theme: str
    default_provider: str | None
    default_model: str | None
    profile: Profile
    avatar_url: str | None
    last_login_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, me: users.Me) -> MeOut:
        u = me.user
        return cls(
            id=u.id,
            email=u.email,
            name=u.name,
            role=u.role,
            is_verified=u.email_verified_at is not None,
            timezone=u.timezone,
            theme=me.theme,
            default_provider=me.default_provider,
            default_model=me.default_model,
            profile=Profile(**{f: getattr(u, f) for f in users.PROFILE_FIELDS}),
            avatar_url=u.avatar_url,
            last_login_at=u.last_login_at,
            created_at=u.created_at,
        )


Short = Annotated[str, Field(max_length=100)]


class ProfilePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bio: Annotated[str, Field(max_length=2000)] | None = None
    city: Short | None = None
    region: Short | None = None
    country: Short | None = None
    postal_code: Annotated[str, Field(max_length=20)] | None = None
    latitude: Annotated[float, Field(ge=-90, le=90)] | None = None
    longitude: Annotated[float, Field(ge=-180, le=180)] | None = None


class MePatch(BaseModel):
    """Only the fields sent change; `null` clears an optional field."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    timezone: Annotated[str, Field(max_length=64, description="An IANA name, e.g. Europe/Paris.")] | None = None
    theme: Theme | None = None
    default_provider: Short | None = None
    default_model: Annotated[str, Field(max_length=200)] | None = None
    profile: ProfilePatch | None = None


@router.get("/v1/me", tags=["me"], summary="Your account, profile and preferences")
def get_me() -> MeOut:
    return MeOut.of(users.get_me(caller().user_id))


@router.patch("/v1/me", tags=["me"], summary="Change your name, time zone, theme, defaults or profile")
def update_me(body: MePatch) -> MeOut:
    changes = body.model_dump(mode="json", exclude_unset=True)
    changes.update(changes.pop("profile", None) or {})
    return MeOut.of(users.update_me(caller().user_id, changes))
