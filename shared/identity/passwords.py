"""Password hashing with argon2id (argon2-cffi), and the rules a new password must meet.

A password is the only low-entropy secret Conveyor stores, so it gets a slow, memory-hard hash (unlike API keys
and tokens, which are random enough for a keyed SHA-256). The parameters are argon2-cffi's defaults (RFC 9106
"low memory" profile: t=3, m=64 MiB, p=4); when they change, `needs_rehash` tells login to re-hash.
"""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from shared.errors import InvalidInput

MIN_LENGTH = 10
MAX_LENGTH = 256  # bounds the work an attacker can make one login cost


@cache
def _hasher() -> PasswordHasher:
    return PasswordHasher(type=Type.ID)


@cache
def _dummy_hash() -> str:
    """A real hash of nothing anyone knows, so a login for an unknown email costs the same as a real one."""
    return _hasher().hash("conveyor-dummy-password-for-timing")


def check_rules(password: str) -> None:
    """Reject passwords outside 10..256 characters (length is what matters; composition rules do not help)."""
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise InvalidInput(
            f"A password must be {MIN_LENGTH} to {MAX_LENGTH} characters long.",
            code="invalid_password",
            details={"min_length": MIN_LENGTH, "max_length": MAX_LENGTH},
        )


def hash_password(password: str, *, enforce_rules: bool = True) -> str:
    """Hash a new password. Login re-hashes an existing one with `enforce_rules=False`: a password set under
    older rules (or imported from a seed system) must keep working, not turn a login into a 422."""
    if enforce_rules:
        check_rules(password)
    return _hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when `password` matches; with no hash (unknown user, password-less user) a dummy verify still runs."""
    if len(password) > MAX_LENGTH:
        password = password[:MAX_LENGTH]  # never hash an unbounded input; such a password cannot match anyway
        password_hash = None
    try:
        ok = _hasher().verify(password_hash or _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False
    return ok and password_hash is not None


def needs_rehash(password_hash: str) -> bool:
    """True when the stored hash was made with other parameters than the current ones."""
    try:
        return _hasher().check_needs_rehash(password_hash)
    except InvalidHashError:
        return True
