"""API key format and hashing.

A key is `cvk_live_` (or `cvk_test_`) followed by 43 base62 characters (≥ 32 random bytes). Only a keyed hash
(HMAC-SHA256 with the deployment's pepper) and the visible prefix are stored: the key is shown once.
A keyed hash instead of a slow one is safe here because the key itself has 256 bits of entropy.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import cache

from shared.config import get_settings

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
RANDOM_CHARS = 43  # 62**43 > 2**256
VISIBLE_RANDOM_CHARS = 8


def new_api_key(*, live: bool = True) -> str:
    body = "".join(secrets.choice(_ALPHABET) for _ in range(RANDOM_CHARS))
    return f"cvk_{'live' if live else 'test'}_{body}"


def visible_prefix(key: str) -> str:
    """What lists and logs may show: the kind and the first characters of the random part."""
    kind, _, body = key.rpartition("_")
    return f"{kind}_{body[:VISIBLE_RANDOM_CHARS]}"


@cache
def _pepper() -> bytes:
    """The HMAC key: from Secrets Manager in AWS (read once per environment), else from settings."""
    settings = get_settings()
    if settings.key_pepper_secret_arn:
        from shared import aws

        value = aws.client("secretsmanager").get_secret_value(SecretId=settings.key_pepper_secret_arn)
        return value["SecretString"].encode()
    return settings.key_pepper.encode()


def hash_token(token: str) -> str:
    return hmac.new(_pepper(), token.encode(), hashlib.sha256).hexdigest()


def forget_pepper() -> None:
    """Re-read the pepper (after settings changed)."""
    _pepper.cache_clear()


def looks_like_api_key(token: str) -> bool:
    kind, _, body = token.rpartition("_")
    return kind in ("cvk_live", "cvk_test") and len(body) == RANDOM_CHARS and all(c in _ALPHABET for c in body)


SESSION_PREFIX = "cvs_"


def new_session_token() -> str:
    """A session token: like an API key (same entropy, same keyed hash) but told apart by its prefix."""
    return SESSION_PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(RANDOM_CHARS))


def looks_like_session_token(token: str) -> bool:
    body = token.removeprefix(SESSION_PREFIX)
    return token.startswith(SESSION_PREFIX) and len(body) == RANDOM_CHARS and all(c in _ALPHABET for c in body)
