"""`/v1/auth`: open sign-up, e-mail verification, login (a session token) and logout.

signup, login and verify are public (functions/api/auth.py PUBLIC_ROUTES); logout needs the session it ends.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from pydantic import BaseModel, ConfigDict, Field

from functions.api.auth import caller
from shared.db.models import User
from shared.identity import sessions, users, verification
from shared.identity.passwords import MAX_LENGTH, MIN_LENGTH

router = Router()

Email = Annotated[str, Field(min_length=3, max_length=320)]


class AccountOut(BaseModel):
    id: uuid.UUID
    email: str | None
    name: str | None
    role: str
    is_verified: bool
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> AccountOut:
        return cls(
            id=user.id,
            email=user.email,
            name=user.name,
            role=user.role,
            is_verified=user.email_verified_at is not None,
            created_at=user.created_at,
        )


class SignupIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    password: Annotated[str, Field(min_length=MIN_LENGTH, max_length=MAX_LENGTH)]
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Annotated[str, Field(max_length=320)]
    # No length rule here: a rule would answer differently from a wrong password. Bounded only against abuse.
    password: Annotated[str, Field(max_length=4096)]


class SessionOut(BaseModel):
    id: uuid.UUID
    expires_at: datetime
    user_agent: str | None
    ip_address: str | None
    created_at: datetime


class LoginOut(BaseModel):
    token: str = Field(description="The session token: send it as `Authorization: Bearer …`. Shown once.")
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type name, not a secret
    expires_at: datetime
    session: SessionOut


class VerifyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: Annotated[str, Field(min_length=1, max_length=256)]


@router.post("/v1/auth/signup", tags=["auth"], summary="Create an account (when sign-up is open)")
def signup(body: SignupIn) -> tuple[AccountOut, int]:
    """The account is created unverified and not signed in: a verification e-mail is sent; log in next."""
    return AccountOut.of(users.signup(body.email, body.password, body.name)), 201


@router.post("/v1/auth/verify", tags=["auth"], summary="Confirm an e-mail address with the token sent to it")
def verify(body: VerifyIn) -> AccountOut:
    return AccountOut.of(verification.verify_email(body.token))


@router.post("/v1/auth/login", tags=["auth"], summary="Sign in with e-mail and password: a session token")
def login(body: LoginIn) -> LoginOut:
    event = router.current_event
    started = sessions.login(
        body.email,
        body.password,
        user_agent=event.headers.get("User-Agent"),
        ip_address=event.request_context.identity.source_ip,
    )
    row = started.session
    return LoginOut(
        token=started.token,
        expires_at=row.expires_at,
        session=SessionOut(
            id=row.id,
            expires_at=row.expires_at,
            user_agent=row.user_agent,
            ip_address=row.ip_address,
            created_at=row.created_at,
        ),
    )


@router.post("/v1/auth/logout", tags=["auth"], summary="End the session this request is signed in with")
def logout() -> Response[None]:
    sessions.logout(caller())
    return Response(status_code=204)
