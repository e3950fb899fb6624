"""Email verification: a single-use, expiring token sent by SES; using it marks the address verified.

The token is 32 random bytes (url-safe) and only its keyed hash is stored, like every other bearer secret.
Using it is one conditional UPDATE (`used_at IS NULL AND expires_at > now()`), so two clicks racing each other
verify once and the second gets the same `invalid_token` as an unknown or expired token. The token never
appears in logs or exceptions: only in the e-mail.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from botocore.exceptions import BotoCoreError, ClientError
from sqlalchemy import func, update
from sqlalchemy.orm import Session

from shared import aws
from shared.config import get_settings
from shared.db import session
from shared.db.enums import TokenPurpose
from shared.db.models import OneTimeToken, User
from shared.errors import InvalidInput, Unavailable
from shared.identity.keys import hash_token

INVALID_TOKEN = "This verification link is invalid, expired or already used."  # noqa: S105 - a message
SUBJECT = "Confirm your e-mail address"


def issue_token(s: Session, user_id: uuid.UUID, email: str) -> str:
    """Store a new verification token for this user and address (older unused ones stop working); return it."""
    now = datetime.now(UTC)
    s.execute(
        update(OneTimeToken)
        .where(
            OneTimeToken.user_id == user_id,
            OneTimeToken.purpose == TokenPurpose.VERIFY_EMAIL.value,
            OneTimeToken.used_at.is_(None),
            OneTimeToken.expires_at > now,
        )
        .values(expires_at=now)
    )
    token = secrets.token_urlsafe(32)
    s.add(
        OneTimeToken(
            user_id=user_id,
            purpose=TokenPurpose.VERIFY_EMAIL.value,
            identifier=email.lower(),
            token_hash=hash_token(token),
            expires_at=now + timedelta(hours=get_settings().verification_ttl_hours),
        )
    )
    s.flush()
    return token


def verification_link(token: str) -> str:
    return f"{get_settings().app_url.rstrip('/')}/verify?token={quote(token)}"


def send_verification_email(email: str, token: str, *, client: Callable[[str], Any] = aws.client) -> None:
    """Send the link through SES; a failure is `Unavailable` (the caller's transaction rolls back)."""
    settings = get_settings()
    hours = settings.verification_ttl_hours
    text = (
        "Welcome to Conveyor.\n\n"
        f"Confirm your e-mail address by opening this link within {hours} hours:\n\n"
        f"{verification_link(token)}\n\n"
        "If you did not sign up, ignore this message.\n"
    )
    try:
        client("ses").send_email(
            Source=settings.email_sender,
            Destination={"ToAddresses": [email]},
            Message={
                "Subject": {"Data": SUBJECT, "Charset": "UTF-8"},
                "Body": {"Text": {"Data": text, "Charset": "UTF-8"}},
            },
        )
    except (ClientError, BotoCoreError) as exc:
        # The message names the failure, never the token or the body.
        raise Unavailable("The verification e-mail could not be sent; try again later.") from exc


def verify_email(token: str) -> User:
    """Use a token: mark it used and the user's address verified, or raise `invalid_token` (one body for all)."""
    now = datetime.now(UTC)
    with session() as s:
        used = s.execute(
            update(OneTimeToken)
            .where(
                OneTimeToken.token_hash == hash_token(token),
                OneTimeToken.purpose == TokenPurpose.VERIFY_EMAIL.value,
                OneTimeToken.used_at.is_(None),
                OneTimeToken.expires_at > now,
            )
            .values(used_at=now)
            .returning(OneTimeToken.user_id, OneTimeToken.identifier)
        ).one_or_none()
        if used is None or used.user_id is None:
            raise InvalidInput(INVALID_TOKEN, code="invalid_token")
        user = s.get(User, used.user_id)
        # The token proves the address it was sent to: if the user changed address since, it proves nothing.
        if user is None or user.email is None or user.email.lower() != used.identifier:
            raise InvalidInput(INVALID_TOKEN, code="invalid_token")  # rolls back: the token stays unused
        if user.email_verified_at is None:
            user.email_verified_at = func.now()
        s.flush()
        s.refresh(user)
        return user
