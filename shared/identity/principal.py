"""Who is calling: the authenticated user, how they authenticated, and what they may do."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum


class Scope(StrEnum):
    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


ALL_SCOPES = frozenset(Scope)


@dataclass(frozen=True)
class Principal:
    user_id: uuid.UUID
    role: str
    scopes: frozenset[str]
    via: str  # "api_key" or "session"
    credential_id: uuid.UUID  # the api_keys or sessions row

    @property
    def is_admin(self) -> bool:
        """Admin powers need both: the user's role and, for an API key, the `admin` scope."""
        return self.role == "admin" and Scope.ADMIN in self.scopes

    def allows(self, scope: str) -> bool:
        if scope == Scope.ADMIN:
            return self.is_admin
        return scope in self.scopes
