"""`/v1/me`: the caller's account, profile and preferences (read and partial update)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from functions.api.auth import caller
from shared.identity import users
from shared.identity.schemas import MeOut, MePatch

router = Router()


@router.get("/v1/me", tags=["me"], summary="Your account, profile and preferences")
def get_me() -> MeOut:
    return MeOut.of(users.get_me(caller().user_id))


@router.patch("/v1/me", tags=["me"], summary="Change your name, time zone, theme, defaults or profile")
def update_me(body: MePatch) -> MeOut:
    changes = body.model_dump(mode="json", exclude_unset=True)
    changes.update(changes.pop("profile", None) or {})
    return MeOut.of(users.update_me(caller().user_id, changes))
