"""Users with working credentials, for tests that call the API as someone."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from shared.db import session
from shared.db.models import User
from shared.identity.api_keys import issue_key
from tests.support.api import ApiClient


@dataclass
class TestUser:
    __test__ = False  # not a test class

    id: uuid.UUID
    email: str
    key: str
    client: ApiClient


def create_test_user(role: str = "member", scopes: list[str] | None = None, email: str | None = None) -> TestUser:
    email = email or f"{role}-{uuid.uuid4().hex[:8]}@example.com"
    with session() as s:
        user = User(email=email, name=email.split("@")[0], role=role)
        s.add(user)
        s.flush()
        user_id = user.id
    default_scopes = ["read", "write", "admin"] if role == "admin" else ["read", "write"]
    issued = issue_key(user_id, name="test key", scopes=scopes or default_scopes)
    return TestUser(user_id, email, issued.secret, ApiClient(issued.secret))
