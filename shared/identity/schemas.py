"""The API's request and response models for accounts, sessions, API keys, credentials, the profile and the admin
user routes (`/v1/auth`, `/v1/me`, `/v1/api-keys`, `/v1/credentials`, `/v1/admin/users`).

They live here, not in functions/api/routes/, because the function's own code ships without valid .pyc and is
compiled on every cold start, while this module ships compiled in the models layer. Each model is built on first
use (`defer_build`): a request validates against a few of them, not all. No `from __future__ import annotations`:
pydantic would then compile and evaluate every annotation string while defining the classes."""

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, StringConstraints

from shared.db.enums import Theme, UserRole
from shared.db.models import User
from shared.fields import Flag, Timestamp
from shared.identity import users, vault
from shared.identity.passwords import MAX_LENGTH, MIN_LENGTH
from shared.identity.principal import Scope

# The service's own rule (users.EMAIL_PATTERN), stated in the schema; surrounding spaces are trimmed. No
# `format: email`: that promises RFC 5321, while Conveyor deliberately takes any `local@host` (admin@localhost too).
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=users.EMAIL_MAX, pattern=users.EMAIL_PATTERN),
    Field(description="`local@host`, no spaces.", json_schema_extra={"pattern": users.EMAIL_SCHEMA_PATTERN}),
]


class AccountOut(BaseModel):
    model_config = ConfigDict(defer_build=True)

    id: uuid.UUID
    email: str | None
    name: str | None
    role: str
    is_verified: bool
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> "AccountOut":
        return cls(
            id=user.id,
            email=user.email,
            name=user.name,
            role=user.role,
            is_verified=user.email_verified_at is not None,
            created_at=user.created_at,
        )


class SignupIn(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    email: Email
    password: Annotated[str, Field(min_length=MIN_LENGTH, max_length=MAX_LENGTH)]
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    email: Annotated[str, Field(max_length=320)]
    # No length rule here: a rule would answer differently from a wrong password. Bounded only against abuse.
    password: Annotated[str, Field(max_length=4096)]


class SessionOut(BaseModel):
    model_config = ConfigDict(defer_build=True)

    id: uuid.UUID
    expires_at: datetime
    user_agent: str | None
    ip_address: str | None
    created_at: datetime


class LoginOut(BaseModel):
    model_config = ConfigDict(defer_build=True)

    token: str = Field(description="The session token: send it as `Authorization: Bearer …`. Shown once.")
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type name, not a secret
    expires_at: datetime
    session: SessionOut


class VerifyIn(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    token: Annotated[str, Field(min_length=1, max_length=256)]


class AdminUserOut(AccountOut):
    disabled: bool
    disabled_at: datetime | None
    has_password: bool
    last_login_at: datetime | None

    @classmethod
    def of(cls, user: User) -> "AdminUserOut":
        return cls(
            **AccountOut.of(user).model_dump(),
            disabled=user.disabled_at is not None,
            disabled_at=user.disabled_at,
            has_password=user.password_hash is not None,
            last_login_at=user.last_login_at,
        )


class AdminUserList(BaseModel):
    model_config = ConfigDict(defer_build=True)

    items: list[AdminUserOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class AdminUserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    email: Email
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    role: UserRole = UserRole.MEMBER
    password: Annotated[str, Field(min_length=MIN_LENGTH, max_length=MAX_LENGTH)] | None = Field(
        default=None, description="Optional: without one the user cannot log in (API keys only)."
    )
    verified: Flag = Field(default=False, description="Mark the e-mail address as already verified.")


class AdminUserPatch(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    disabled: Flag | None = Field(default=None, description="Disabling ends the user's sessions and API key use.")
    role: UserRole | None = None


class InstanceSettingsOut(BaseModel):
    model_config = ConfigDict(defer_build=True)

    signup_enabled: bool
    team_invites_enabled: bool | None


class InstanceSettingsPatch(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    signup_enabled: Flag | None = None
    team_invites_enabled: Flag | None = None


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    name: Annotated[str, Field(min_length=1, max_length=100)] = Field(
        description="A label; the admin lists and revokes keys by name (seed 000's named tokens)."
    )
    scopes: list[Scope] = Field(default_factory=lambda: [Scope.READ, Scope.WRITE])
    until: Timestamp | None = Field(default=None, description="Expiry (with a time zone); the key stops after it.")
    test: Flag = Field(default=False, description="Issue a `cvk_test_` key instead of `cvk_live_`.")


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True, defer_build=True)

    id: uuid.UUID
    name: str
    prefix: str
    scopes: list[str]
    until: datetime | None = Field(validation_alias=AliasChoices("expires_at", "until"))
    last_used_at: datetime | None
    revoked_at: datetime | None
    created_at: datetime


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The full key. Shown once: store it now.")


class ApiKeyList(BaseModel):
    model_config = ConfigDict(defer_build=True)

    items: list[ApiKeyOut]


KeyName = Annotated[str, Field(min_length=1, max_length=100)]


class HeldApiKeyOut(ApiKeyOut):
    """A key as the admin sees it: whose it is, never the key (nor its hash)."""

    user_id: uuid.UUID
    user_email: str


class HeldApiKeyList(BaseModel):
    model_config = ConfigDict(defer_build=True)

    items: list[HeldApiKeyOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class NamedKeyRevoke(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    name: KeyName = Field(description="The exact name: every user's unrevoked keys of this name are revoked.")


class NamedKeyRevoked(BaseModel):
    model_config = ConfigDict(defer_build=True)

    name: str
    revoked: int = Field(description="How many keys this request revoked (0 when none was left to revoke).")
    items: list[HeldApiKeyOut] = Field(description="The keys it revoked, with their holders.")


Provider = Annotated[
    str,
    Field(pattern=vault.PROVIDER_PATTERN, description="Lower-case provider id, e.g. `openai`, `deviantart`."),
]
Label = Annotated[str, Field(min_length=1, max_length=100)]
SecretText = Annotated[str, Field(min_length=1, max_length=vault.MAX_SECRET_CHARS)]


class CredentialCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    provider: Provider
    label: Label | None = None
    secret: SecretText = Field(description="The API key or OAuth access token. Write-only: never returned.")
    expires_at: Timestamp | None = None
    refresh_token: SecretText | None = Field(default=None, description="OAuth refresh token. Write-only.")
    refresh_expires_at: Timestamp | None = None
    provider_account_id: Annotated[str, Field(min_length=1, max_length=255)] | None = Field(
        default=None, description="The account at the provider (a linked OAuth account); unique per provider."
    )
    scope: Annotated[str, Field(max_length=2000)] | None = None
    token_type: Annotated[str, Field(min_length=1, max_length=40)] | None = None
    is_default: Flag | None = Field(
        default=None, description="Make this the provider's default. The first credential of a provider always is."
    )


class CredentialUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    label: Label | None = None
    is_default: Flag | None = Field(default=None, description="`true` makes this the provider's default.")


class CredentialOut(BaseModel):
    """What the API shows of a credential: never the secret, the ciphertext or any key material."""

    model_config = ConfigDict(from_attributes=True, defer_build=True)

    id: uuid.UUID
    provider: str
    label: str | None
    kind: str
    last4: str | None = Field(description="Last 4 characters of the secret; empty for secrets under 8 characters.")
    is_default: bool
    expires_at: datetime | None
    refresh_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime


class CredentialList(BaseModel):
    model_config = ConfigDict(defer_build=True)

    items: list[CredentialOut]


class Profile(BaseModel):
    model_config = ConfigDict(defer_build=True)

    bio: str | None = None
    city: str | None = None
    region: str | None = None
    country: str | None = None
    postal_code: str | None = None
    latitude: float | None = None
    longitude: float | None = None


class MeOut(BaseModel):
    model_config = ConfigDict(defer_build=True)

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
    def of(cls, me: users.Me) -> "MeOut":
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
    model_config = ConfigDict(extra="forbid", defer_build=True)

    bio: Annotated[str, Field(max_length=2000)] | None = None
    city: Short | None = None
    region: Short | None = None
    country: Short | None = None
    postal_code: Annotated[str, Field(max_length=20)] | None = None
    latitude: Annotated[float, Field(ge=-90, le=90)] | None = None
    longitude: Annotated[float, Field(ge=-180, le=180)] | None = None


class MePatch(BaseModel):
    """Only the fields sent change; `null` clears an optional field."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    timezone: Annotated[str, Field(max_length=64, description="An IANA name, e.g. Europe/Paris.")] | None = None
    theme: Theme | None = None
    default_provider: Short | None = None
    default_model: Annotated[str, Field(max_length=200)] | None = None
    profile: ProfilePatch | None = None
