"""`/v1/auth`: open sign-up, e-mail verification, login (a session token) and logout.

signup, login and verify are public (functions/api/auth.py PUBLIC_ROUTES); logout needs the session it ends.
"""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from functions.api.auth import caller
from functions.api.responses import extra
from shared.identity import sessions, users, verification
from shared.identity.schemas import AccountOut, LoginIn, LoginOut, SessionOut, SignupIn, VerifyIn

router = Router()


@router.post(
    "/v1/auth/signup", tags=["auth"], summary="Create an account (when sign-up is open)", responses=extra(201, 403, 409)
)
def signup(body: SignupIn) -> tuple[AccountOut, int]:
    """The account is created unverified and not signed in: a verification e-mail is sent; log in next."""
    return AccountOut.of(users.signup(body.email, body.password, body.name)), 201


@router.post("/v1/auth/verify", tags=["auth"], summary="Confirm an e-mail address with the token sent to it")
def verify(body: VerifyIn) -> AccountOut:
    return AccountOut.of(verification.verify_email(body.token))


@router.post(
    "/v1/auth/login",
    tags=["auth"],
    summary="Sign in with e-mail and password: a session token",
    responses=extra(200, 401),
)
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


@router.post(
    "/v1/auth/logout", tags=["auth"], summary="End the session this request is signed in with", responses=extra(204)
)
def logout() -> Response[None]:
    sessions.logout(caller())
    return Response(status_code=204)
