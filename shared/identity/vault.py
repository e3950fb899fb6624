"""The credential vault: third-party secrets (provider API keys, OAuth tokens) under envelope encryption.

Each record gets its own 256-bit data key from KMS (`GenerateDataKey` under `settings.kms_key_id`, with an
encryption context naming the owner), and its secrets are sealed with AES-256-GCM under that key. The table
holds the ciphertext, the 12-byte nonce and the 16-byte tag of every secret field, the *encrypted* data key and
the id of the KMS key that wrapped it; the plaintext data key exists only for the duration of one seal or open.

Every field is sealed with associated data `conveyor:credential:<user_id>:<credential_id>:<field>`, so a
ciphertext copied to another row, another user or another field does not open. The KMS encryption context binds
the data key to its owner as well: moving a whole record to another user fails at KMS already.

The API never returns secrets. `decrypt_for_job` is the only path that opens a record; it exists for job
handlers that must call a provider on the user's behalf. Any integrity failure (tampered tag or ciphertext, a
record moved between rows, a data key wrapped by another KMS key or with another context, a key that is
disabled or gone) raises `VaultError` and is logged with ids only — never with a secret.
"""

from __future__ import annotations

import base64
import os
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared import aws
from shared.config import get_settings
from shared.db import session
from shared.db.enums import CredentialKind
from shared.db.models import Credential
from shared.errors import Conflict, ConveyorError, InvalidInput, NotFound, Unavailable

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

logger = Logger(child=True)

PROVIDER_PATTERN = r"^[a-z0-9_-]{1,40}$"
MAX_SECRET_CHARS = 8192
#: Below this length the last four characters would give away too much of the secret: last4 stays empty.
LAST4_MIN_CHARS = 8
NONCE_BYTES = 12
TAG_BYTES = 16
PURPOSE = "credential"

SECRET_FIELD = "secret"  # noqa: S105 - a field name, not a secret
REFRESH_FIELD = "refresh_token"
ID_TOKEN_FIELD = "id_token"  # noqa: S105 - a field name
#: Where an OAuth id_token (seed 003 Account.id_token) is kept, sealed like the other fields: the table has no column.
ID_TOKEN_META_KEY = "sealed_id_token"  # noqa: S105 - a JSON key

#: KMS answers that mean "this record cannot be opened with its key", as opposed to "KMS is unreachable".
_KMS_KEY_FAILURES = frozenset(
    {
        "InvalidCiphertextException",
        "IncorrectKeyException",
        "AccessDeniedException",
        "DisabledException",
        "NotFoundException",
        "KMSInvalidStateException",
        "InvalidKeyUsageException",
    }
)

_provider_re = re.compile(PROVIDER_PATTERN)


class Unset(Enum):
    """Marks an argument the caller left out, where None is a meaningful value."""

    UNSET = "unset"


UNSET = Unset.UNSET


class VaultError(ConveyorError):
    """A credential could not be opened: tampered, moved, or wrapped by a key we cannot or must not use.

    It is never recoverable by retrying, and the message never contains secret material.
    """

    code = "vault_integrity"


@dataclass(frozen=True)
class SecretMaterial:
    """An opened credential, for a job handler's immediate use; secrets are kept out of repr() and logs."""

    credential_id: uuid.UUID
    user_id: uuid.UUID
    provider: str
    kind: str
    provider_account_id: str | None
    scope: str | None
    token_type: str | None
    expires_at: datetime | None
    refresh_expires_at: datetime | None
    secret: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    id_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class _Sealed:
    ciphertext: bytes
    nonce: bytes
    tag: bytes


@dataclass(frozen=True)
class _SealedRecord:
    encrypted_data_key: bytes
    kms_key_id: str
    secret: _Sealed
    refresh: _Sealed | None
    id_token: _Sealed | None


# --- crypto ---------------------------------------------------------------------------------------------------


def _encryption_context(user_id: uuid.UUID) -> dict[str, str]:
    """KMS binds the data key to its owner: unwrapping it under another user's context fails at KMS."""
    return {"conveyor:user_id": str(user_id), "conveyor:purpose": PURPOSE}


def _aad(user_id: uuid.UUID, credential_id: uuid.UUID, field_name: str) -> bytes:
    """GCM associated data: a ciphertext only opens in the row, for the owner and in the field it was made for."""
    return f"conveyor:{PURPOSE}:{user_id}:{credential_id}:{field_name}".encode()


def _aesgcm(key: bytes) -> AESGCM:
    """AES-256-GCM under a data key. cryptography is imported here, not at module level: loading its Rust
    bindings costs every cold start ~10 ms, and only sealing or opening a record needs them."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(key)


def _seal(aes: AESGCM, plaintext: str, aad: bytes) -> _Sealed:
    nonce = os.urandom(NONCE_BYTES)
    out = aes.encrypt(nonce, plaintext.encode(), aad)  # ciphertext || 16-byte tag
    return _Sealed(ciphertext=out[:-TAG_BYTES], nonce=nonce, tag=out[-TAG_BYTES:])


def _open(aes: AESGCM, sealed: _Sealed, aad: bytes) -> str:
    if len(sealed.nonce) != NONCE_BYTES or len(sealed.tag) != TAG_BYTES:
        raise ValueError("malformed nonce or tag")
    return aes.decrypt(sealed.nonce, sealed.ciphertext + sealed.tag, aad).decode()


def _kms_error_code(exc: Exception) -> str:
    return exc.response.get("Error", {}).get("Code", "Unknown") if isinstance(exc, ClientError) else type(exc).__name__


def _seal_record(
    user_id: uuid.UUID,
    credential_id: uuid.UUID,
    *,
    secret: str,
    refresh_token: str | None,
    id_token: str | None,
    kms: Any,
) -> _SealedRecord:
    """Seal every secret field of one record under a fresh data key; the plaintext key is dropped on return."""
    key_id = get_settings().kms_key_id
    if not key_id:
        raise Unavailable("The credential vault has no KMS key configured.", code="vault_unconfigured")
    try:
        generated = kms.generate_data_key(
            KeyId=key_id, KeySpec="AES_256", EncryptionContext=_encryption_context(user_id)
        )
    except (ClientError, BotoCoreError) as exc:
        logger.error("vault data key not generated", extra={"user_id": str(user_id), "kms_error": _kms_error_code(exc)})
        raise Unavailable("The credential vault cannot encrypt right now.", code="vault_unavailable") from None
    aes = _aesgcm(generated.pop("Plaintext"))
    try:
        return _SealedRecord(
            encrypted_data_key=generated["CiphertextBlob"],
            kms_key_id=generated["KeyId"],
            secret=_seal(aes, secret, _aad(user_id, credential_id, SECRET_FIELD)),
            refresh=_seal(aes, refresh_token, _aad(user_id, credential_id, REFRESH_FIELD)) if refresh_token else None,
            id_token=_seal(aes, id_token, _aad(user_id, credential_id, ID_TOKEN_FIELD)) if id_token else None,
        )
    finally:
        del aes, generated


def _integrity_failure(row: Credential, reason: str, kms_error: str | None = None) -> VaultError:
    logger.error(
        "vault integrity failure",
        extra={"credential_id": str(row.id), "user_id": str(row.user_id), "reason": reason, "kms_error": kms_error},
    )
    return VaultError(
        "The stored credential failed its integrity check and cannot be used.",
        details={"credential_id": str(row.id), "reason": reason},
    )


def _open_record(row: Credential, *, kms: Any) -> tuple[str, str | None, str | None]:
    """Unwrap the record's data key with the KMS key the record names, then open and authenticate each field."""
    try:
        unwrapped = kms.decrypt(
            CiphertextBlob=row.encrypted_data_key,
            KeyId=row.kms_key_id,
            EncryptionContext=_encryption_context(row.user_id),
        )
    except ClientError as exc:
        code = _kms_error_code(exc)
        if code in _KMS_KEY_FAILURES:
            raise _integrity_failure(row, "data_key_rejected", code) from None
        logger.error("vault data key not unwrapped", extra={"credential_id": str(row.id), "kms_error": code})
        raise Unavailable("The credential vault cannot decrypt right now.", code="vault_unavailable") from None
    except BotoCoreError as exc:
        logger.error(
            "vault data key not unwrapped", extra={"credential_id": str(row.id), "kms_error": type(exc).__name__}
        )
        raise Unavailable("The credential vault cannot decrypt right now.", code="vault_unavailable") from None
    # Defence in depth: KMS already refuses a blob wrapped by another key when KeyId is given.
    if unwrapped.get("KeyId") != row.kms_key_id:
        del unwrapped
        raise _integrity_failure(row, "kms_key_mismatch")
    aes = _aesgcm(unwrapped.pop("Plaintext"))
    del unwrapped
    from cryptography.exceptions import InvalidTag  # lazily, as in _aesgcm (already loaded by it)

    try:
        secret = _open(aes, _Sealed(row.ciphertext, row.nonce, row.tag), _aad(row.user_id, row.id, SECRET_FIELD))
        refresh = None
        if row.refresh_ciphertext is not None and row.refresh_nonce is not None and row.refresh_tag is not None:
            refresh = _open(
                aes,
                _Sealed(row.refresh_ciphertext, row.refresh_nonce, row.refresh_tag),
                _aad(row.user_id, row.id, REFRESH_FIELD),
            )
        id_token = None
        if sealed_id := (row.meta or {}).get(ID_TOKEN_META_KEY):
            id_token = _open(aes, _from_json(sealed_id), _aad(row.user_id, row.id, ID_TOKEN_FIELD))
    except (InvalidTag, ValueError, KeyError, TypeError):
        raise _integrity_failure(row, "ciphertext_rejected") from None
    finally:
        del aes
    return secret, refresh, id_token


def _to_json(sealed: _Sealed) -> dict[str, str]:
    return {k: base64.b64encode(getattr(sealed, k)).decode() for k in ("ciphertext", "nonce", "tag")}


def _from_json(data: dict[str, str]) -> _Sealed:
    return _Sealed(*(base64.b64decode(data[k], validate=True) for k in ("ciphertext", "nonce", "tag")))


def _apply(row: Credential, sealed: _SealedRecord) -> None:
    row.encrypted_data_key = sealed.encrypted_data_key
    row.kms_key_id = sealed.kms_key_id
    row.ciphertext, row.nonce, row.tag = sealed.secret.ciphertext, sealed.secret.nonce, sealed.secret.tag
    if sealed.refresh is None:
        row.refresh_ciphertext = row.refresh_nonce = row.refresh_tag = None
    else:
        row.refresh_ciphertext, row.refresh_nonce, row.refresh_tag = (
            sealed.refresh.ciphertext,
            sealed.refresh.nonce,
            sealed.refresh.tag,
        )
    meta = {k: v for k, v in (row.meta or {}).items() if k != ID_TOKEN_META_KEY}
    if sealed.id_token is not None:
        meta[ID_TOKEN_META_KEY] = _to_json(sealed.id_token)
    row.meta = meta


# --- validation and defaults ----------------------------------------------------------------------------------


def last4(secret: str) -> str | None:
    """The last four characters, only when the secret is long enough that they reveal little of it."""
    return secret[-4:] if len(secret) >= LAST4_MIN_CHARS else None


def _check_provider(provider: str) -> None:
    if not _provider_re.fullmatch(provider):
        raise InvalidInput("The provider must be 1-40 characters of a-z, 0-9, '_' or '-'.", code="invalid_provider")


def _check_secret(value: str | None, name: str) -> None:
    # Length only: the message must never echo the value.
    if value is not None and not 1 <= len(value) <= MAX_SECRET_CHARS:
        raise InvalidInput(f"The {name} must be 1-{MAX_SECRET_CHARS} characters.", details={"field": name})


def _lock_provider(s: Session, user_id: uuid.UUID, provider: str) -> None:
    """Serialise default changes per user and provider (two 'first' credentials would both claim the default)."""
    s.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": f"credentials:{user_id}:{provider}"})


def _clear_default(s: Session, user_id: uuid.UUID, provider: str) -> None:
    s.execute(
        update(Credential)
        .where(Credential.user_id == user_id, Credential.provider == provider, Credential.is_default)
        .values(is_default=False)
    )


def _has_default(s: Session, user_id: uuid.UUID, provider: str) -> bool:
    return (
        s.scalar(
            select(Credential.id).where(
                Credential.user_id == user_id, Credential.provider == provider, Credential.is_default
            )
        )
        is not None
    )


def _owned(s: Session, user_id: uuid.UUID, credential_id: uuid.UUID, *, for_update: bool = False) -> Credential:
    query = select(Credential).where(Credential.id == credential_id, Credential.user_id == user_id)
    row = s.scalar(query.with_for_update() if for_update else query)
    if row is None:
        raise NotFound("No such credential.")
    return row


def _account_taken() -> Conflict:
    return Conflict("This provider account is already linked to a user.", code="credential_account_taken")


def _is_account_conflict(exc: IntegrityError) -> bool:
    return "uq_credentials_provider_account" in str(exc.orig)


# --- service --------------------------------------------------------------------------------------------------


def store_credential(
    user_id: uuid.UUID,
    *,
    provider: str,
    secret: str,
    label: str | None = None,
    expires_at: datetime | None = None,
    refresh_token: str | None = None,
    refresh_expires_at: datetime | None = None,
    provider_account_id: str | None = None,
    scope: str | None = None,
    token_type: str | None = None,
    id_token: str | None = None,
    is_default: bool | None = None,
    kms: Any = None,
) -> Credential:
    """Encrypt and store a new credential; the first one for a provider is its default whatever `is_default` says.

    `is_default=True` moves the default to the new credential in the same transaction. The kind is 'oauth' when
    a refresh token or a provider account id comes with it, 'api_key' otherwise.
    """
    _check_provider(provider)
    _check_secret(secret, "secret")
    _check_secret(refresh_token, "refresh token")
    if refresh_expires_at is not None and refresh_token is None:
        raise InvalidInput("refresh_expires_at needs a refresh_token.", details={"field": "refresh_expires_at"})
    kind = CredentialKind.OAUTH if (refresh_token or provider_account_id) else CredentialKind.API_KEY
    credential_id = uuid.uuid4()  # known before sealing: it is part of every field's associated data
    # KMS is called before the transaction opens, so no lock is held across a network round trip.
    sealed = _seal_record(
        user_id,
        credential_id,
        secret=secret,
        refresh_token=refresh_token,
        id_token=id_token,
        kms=kms or aws.client("kms"),
    )
    row = Credential(
        id=credential_id,
        user_id=user_id,
        provider=provider,
        label=label,
        kind=kind.value,
        provider_account_id=provider_account_id,
        last4=last4(secret),
        scope=scope,
        token_type=token_type,
        expires_at=expires_at,
        refresh_expires_at=refresh_expires_at,
        meta={},
    )
    _apply(row, sealed)
    try:
        with session() as s:
            _lock_provider(s, user_id, provider)
            if provider_account_id is not None and s.scalar(
                select(Credential.id).where(
                    Credential.provider == provider, Credential.provider_account_id == provider_account_id
                )
            ):
                raise _account_taken()
            if is_default:
                _clear_default(s, user_id, provider)
                row.is_default = True
            else:
                row.is_default = not _has_default(s, user_id, provider)
            s.add(row)
            s.flush()
            s.refresh(row)
    except IntegrityError as exc:
        if _is_account_conflict(exc):
            raise _account_taken() from None
        raise
    return row


def link_oauth_account(
    user_id: uuid.UUID,
    *,
    provider: str,
    provider_account_id: str,
    access_token: str,
    refresh_token: str | None = None,
    expires_at: datetime | None = None,
    refresh_expires_at: datetime | None = None,
    token_type: str | None = None,
    scope: str | None = None,
    id_token: str | None = None,
    label: str | None = None,
    kms: Any = None,
) -> Credential:
    """Store a linked OAuth account (seed 003 Account, seed 002 DeviantArt tokens) through the vault.

    Linking again (a new sign-in, a token refresh) replaces the tokens under a fresh data key and keeps the
    row, its id and its default flag. Providers often answer a refresh without a new refresh token or
    id_token: a None keeps the stored one (and its expiry), as a None token_type or scope does. An account
    linked to another user is a conflict, never a takeover.
    """
    _check_provider(provider)
    _check_secret(access_token, "access token")
    _check_secret(refresh_token, "refresh token")
    with session() as s:
        existing = s.scalar(
            select(Credential).where(
                Credential.provider == provider, Credential.provider_account_id == provider_account_id
            )
        )
    if existing is None:
        return store_credential(
            user_id,
            provider=provider,
            secret=access_token,
            label=label,
            expires_at=expires_at,
            refresh_token=refresh_token,
            refresh_expires_at=refresh_expires_at,
            provider_account_id=provider_account_id,
            scope=scope,
            token_type=token_type,
            id_token=id_token,
            kms=kms,
        )
    if existing.user_id != user_id:
        raise _account_taken()
    kms = kms or aws.client("kms")
    if (refresh_token is None and existing.refresh_ciphertext is not None) or (
        id_token is None and ID_TOKEN_META_KEY in (existing.meta or {})
    ):
        _, kept_refresh, kept_id_token = _open_record(existing, kms=kms)
        if refresh_token is None and kept_refresh is not None:
            refresh_token, refresh_expires_at = kept_refresh, refresh_expires_at or existing.refresh_expires_at
        id_token = id_token or kept_id_token
    sealed = _seal_record(
        user_id,
        existing.id,
        secret=access_token,
        refresh_token=refresh_token,
        id_token=id_token,
        kms=kms,
    )
    with session() as s:
        row = _owned(s, user_id, existing.id, for_update=True)
        _apply(row, sealed)
        row.kind = CredentialKind.OAUTH.value
        row.last4 = last4(access_token)
        row.expires_at, row.refresh_expires_at = expires_at, refresh_expires_at
        row.token_type, row.scope = token_type or row.token_type, scope or row.scope
        if label is not None:
            row.label = label
        s.flush()
        s.refresh(row)
    return row


def list_credentials(user_id: uuid.UUID, *, provider: str | None = None) -> list[Credential]:
    query = select(Credential).where(Credential.user_id == user_id)
    if provider is not None:
        query = query.where(Credential.provider == provider)
    with session() as s:
        return list(s.scalars(query.order_by(Credential.provider, Credential.created_at.desc(), Credential.id)))


def get_credential(user_id: uuid.UUID, credential_id: uuid.UUID) -> Credential:
    """Metadata of one of the caller's credentials; another user's id is 'not found', never 'forbidden'."""
    with session() as s:
        return _owned(s, user_id, credential_id)


def update_credential(
    user_id: uuid.UUID,
    credential_id: uuid.UUID,
    *,
    label: str | Unset | None = UNSET,
    is_default: bool | None = None,
) -> Credential:
    """Rename (None clears the label, UNSET leaves it) or make the credential its provider's default.

    A provider that has credentials always has exactly one default, so the default cannot be switched off
    directly: another credential is made the default instead.
    """
    with session() as s:
        row = _owned(s, user_id, credential_id)
        _lock_provider(s, user_id, row.provider)
        s.refresh(row, with_for_update=True)
        if not isinstance(label, Unset):
            row.label = label
        if is_default and not row.is_default:
            _clear_default(s, user_id, row.provider)
            row.is_default = True
        elif is_default is False and row.is_default:
            raise InvalidInput(
                "A provider's credentials always have one default: make another credential the default instead.",
                code="default_required",
            )
        s.flush()
        s.refresh(row)
    return row


def delete_credential(user_id: uuid.UUID, credential_id: uuid.UUID) -> None:
    """Delete the record (ciphertext and wrapped key with it). Deleting the default promotes the newest remaining
    credential of that provider, so "the provider's default" keeps meaning something for job handlers."""
    with session() as s:
        row = _owned(s, user_id, credential_id)
        _lock_provider(s, user_id, row.provider)
        deleted = s.execute(
            delete(Credential)
            .where(Credential.id == credential_id, Credential.user_id == user_id)
            .returning(Credential.is_default)
        ).scalar_one_or_none()
        if deleted is None:  # deleted concurrently
            raise NotFound("No such credential.")
        if deleted:
            newest = s.scalar(
                select(Credential.id)
                .where(Credential.user_id == user_id, Credential.provider == row.provider)
                .order_by(Credential.created_at.desc(), Credential.id.desc())
                .limit(1)
            )
            if newest is not None:
                s.execute(update(Credential).where(Credential.id == newest).values(is_default=True))


def decrypt_for_job(
    user_id: uuid.UUID,
    credential_id: uuid.UUID | None = None,
    *,
    provider: str | None = None,
    kms: Any = None,
) -> SecretMaterial:
    """Open a credential for a job handler: by id, or the provider's default. The only decrypt path there is.

    Never call this from an API route: the API shows metadata only. Raises NotFound when the user has no such
    credential and VaultError when the record does not authenticate.
    """
    if (credential_id is None) == (provider is None):
        raise InvalidInput("Give either a credential id or a provider.")
    with session() as s:
        if credential_id is not None:
            row = _owned(s, user_id, credential_id)
        else:
            row = s.scalar(
                select(Credential).where(
                    Credential.user_id == user_id, Credential.provider == provider, Credential.is_default
                )
            )
            if row is None:
                raise NotFound("No credential for this provider.", details={"provider": provider})
    secret, refresh, id_token = _open_record(row, kms=kms or aws.client("kms"))
    return SecretMaterial(
        credential_id=row.id,
        user_id=row.user_id,
        provider=row.provider,
        kind=row.kind,
        provider_account_id=row.provider_account_id,
        scope=row.scope,
        token_type=row.token_type,
        expires_at=row.expires_at,
        refresh_expires_at=row.refresh_expires_at,
        secret=secret,
        refresh_token=refresh,
        id_token=id_token,
    )
