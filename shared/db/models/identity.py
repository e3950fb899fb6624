"""Who is calling and with what: users, their settings, API keys, sessions, the credential vault, one-time tokens."""

# No `from __future__ import annotations` here: SQLAlchemy would then evaluate every `Mapped[...]` string while
# mapping the class, ~10 % of the models' import, which every function pays on each cold start.

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Float, Index, Text, func, text
from sqlalchemy.dialects.postgresql import ARRAY, BYTEA, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, Timestamps, UUIDPk
from shared.db.enums import CredentialKind, Theme, TokenPurpose, UserRole
from shared.db.models._common import EMPTY_ARRAY, EMPTY_OBJECT, enum_check, fk


class User(UUIDPk, Timestamps, Base):
    """One account. Email is optional (OAuth-only users of seed 002 may have none) but unique ignoring case."""

    __tablename__ = "users"

    email: Mapped[str | None]
    name: Mapped[str | None]
    password_hash: Mapped[str | None]
    role: Mapped[str] = mapped_column(server_default=UserRole.MEMBER.value)
    disabled_at: Mapped[datetime | None]
    email_verified_at: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]
    avatar_url: Mapped[str | None]
    timezone: Mapped[str] = mapped_column(server_default="UTC")
    # Profile (seed 003): a 1:1 table would only add a join.
    bio: Mapped[str | None] = mapped_column(Text)
    city: Mapped[str | None]
    region: Mapped[str | None]
    country: Mapped[str | None]
    postal_code: Mapped[str | None]
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)

    __table_args__ = (
        enum_check("role", UserRole),
        Index("uq_users_lower_email", func.lower(text("email")), unique=True),
    )


class UserSettings(Timestamps, Base):
    """Per-user preferences; keyed by the user since there is exactly one row per user."""

    __tablename__ = "user_settings"

    user_id: Mapped[uuid.UUID] = fk("users.id", "CASCADE", primary_key=True)
    theme: Mapped[str] = mapped_column(server_default=Theme.SYSTEM.value)
    default_provider: Mapped[str | None]
    default_model: Mapped[str | None]
    preferences: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=EMPTY_OBJECT)
    # Largest upload this user may request (OWASP API4), set by an admin, never by the user; NULL: the instance's
    # CONVEYOR_MEDIA_MAX_BYTES. Never above it (shared.media.uploads.upload_limit caps it).
    media_max_bytes: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (enum_check("theme", Theme), CheckConstraint("media_max_bytes > 0", name="media_max_bytes"))


class InstanceSettings(Timestamps, Base):
    """Runtime switches that override environment defaults; a single row with id 'singleton'."""

    __tablename__ = "instance_settings"

    id: Mapped[str] = mapped_column(primary_key=True, server_default="singleton")
    signup_enabled: Mapped[bool] = mapped_column(server_default=text("true"))
    # NULL means "use the environment default", as in seed 002.
    team_invites_enabled: Mapped[bool | None]
    extra: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=EMPTY_OBJECT)

    __table_args__ = (CheckConstraint("id = 'singleton'", name="singleton"),)


class ApiKey(UUIDPk, Base):
    """A bearer key: only its HMAC is stored; the prefix is the visible part users recognise it by."""

    __tablename__ = "api_keys"

    user_id: Mapped[uuid.UUID] = fk("users.id", "CASCADE")
    name: Mapped[str]
    prefix: Mapped[str]
    key_hash: Mapped[str] = mapped_column(unique=True)
    scopes: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=EMPTY_ARRAY)
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    # The rate limit's counter (shared/identity/ratelimit.py): requests in the fixed window that starts here.
    rate_window_start: Mapped[datetime | None]
    rate_hits: Mapped[int] = mapped_column(server_default="0")

    __table_args__ = (Index(None, "user_id"),)


class Session(UUIDPk, Base):
    """A login session; the bearer token is stored hashed like API keys."""

    __tablename__ = "sessions"

    user_id: Mapped[uuid.UUID] = fk("users.id", "CASCADE")
    token_hash: Mapped[str] = mapped_column(unique=True)
    expires_at: Mapped[datetime]
    user_agent: Mapped[str | None]
    ip_address: Mapped[str | None]
    last_seen_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    # The rate limit's counter (shared/identity/ratelimit.py), as on api_keys.
    rate_window_start: Mapped[datetime | None]
    rate_hits: Mapped[int] = mapped_column(server_default="0")

    __table_args__ = (Index(None, "user_id"), Index(None, "expires_at"))


class Credential(UUIDPk, Timestamps, Base):
    """The vault: third-party OAuth tokens and provider API keys, AES-256-GCM under a KMS data key.

    Only last4 and non-secret facts are readable without decrypting.
    """

    __tablename__ = "credentials"

    user_id: Mapped[uuid.UUID] = fk("users.id", "CASCADE")
    provider: Mapped[str]
    label: Mapped[str | None]
    kind: Mapped[str]
    provider_account_id: Mapped[str | None]
    ciphertext: Mapped[bytes] = mapped_column(BYTEA)
    nonce: Mapped[bytes] = mapped_column(BYTEA)
    tag: Mapped[bytes] = mapped_column(BYTEA)
    encrypted_data_key: Mapped[bytes] = mapped_column(BYTEA)
    kms_key_id: Mapped[str]
    refresh_ciphertext: Mapped[bytes | None] = mapped_column(BYTEA)
    refresh_nonce: Mapped[bytes | None] = mapped_column(BYTEA)
    refresh_tag: Mapped[bytes | None] = mapped_column(BYTEA)
    last4: Mapped[str | None]
    scope: Mapped[str | None]
    token_type: Mapped[str | None]
    expires_at: Mapped[datetime | None]
    refresh_expires_at: Mapped[datetime | None]
    last_refreshed_at: Mapped[datetime | None]
    refresh_warning_email_sent: Mapped[bool] = mapped_column(server_default=text("false"))
    refresh_expired_email_sent: Mapped[bool] = mapped_column(server_default=text("false"))
    is_default: Mapped[bool] = mapped_column(server_default=text("false"))
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSONB, server_default=EMPTY_OBJECT)

    __table_args__ = (
        enum_check("kind", CredentialKind),
        CheckConstraint(
            "(refresh_ciphertext IS NULL) = (refresh_nonce IS NULL)"
            " AND (refresh_nonce IS NULL) = (refresh_tag IS NULL)",
            name="refresh_parts",
        ),
        Index(None, "user_id", "provider"),
        # At most one default credential per provider and user.
        Index(
            "uq_credentials_default_per_provider",
            "user_id",
            "provider",
            unique=True,
            postgresql_where=text("is_default"),
        ),
        # One provider account belongs to one Conveyor user (seed 003 Account, seed 002 User.deviantartId).
        Index("uq_credentials_provider_account", "provider", "provider_account_id", unique=True),
        # Refresh housekeeping: tokens about to expire.
        Index(None, "refresh_expires_at", postgresql_where=text("refresh_expires_at IS NOT NULL")),
    )


class OneTimeToken(UUIDPk, Base):
    """Single-use proofs (email verification, password reset, invites), stored hashed."""

    __tablename__ = "one_time_tokens"

    user_id: Mapped[uuid.UUID | None] = fk("users.id", "CASCADE")
    purpose: Mapped[str]
    identifier: Mapped[str]
    token_hash: Mapped[str] = mapped_column(unique=True)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())

    __table_args__ = (
        enum_check("purpose", TokenPurpose),
        Index(None, "identifier", "purpose"),
        Index(None, "user_id", postgresql_where=text("user_id IS NOT NULL")),
        Index(None, "expires_at"),
    )
