"""Authentication and scope checks at the API's edge, before any routing or body validation.

Every route needs a bearer token except the few listed in PUBLIC_ROUTES. The scope a request needs follows from
its method and path: reads need `read`, writes need `write`, and `/v1/admin/...` needs an admin — so a new route
is protected the moment it exists, without anyone remembering to protect it.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from shared.errors import Forbidden, Unauthenticated
from shared.identity.auth import authenticate
from shared.identity.principal import Principal, Scope

PUBLIC_ROUTES: frozenset[tuple[str, str]] = frozenset(
    {
        ("GET", "/v1/health"),
        ("GET", "/v1/openapi.json"),
        ("GET", "/v1/docs"),
        ("POST", "/v1/auth/signup"),
        ("POST", "/v1/auth/login"),
        ("POST", "/v1/auth/verify"),
        ("POST", "/v1/payments/webhook"),
    }
)
READ_METHODS = frozenset({"GET", "HEAD"})

_principal: ContextVar[Principal | None] = ContextVar("principal", default=None)


def is_public(method: str, path: str) -> bool:
    return method == "OPTIONS" or (method, path.rstrip("/") or "/") in PUBLIC_ROUTES


def required_scope(method: str, path: str) -> Scope:
    if path.startswith("/v1/admin/") or path == "/v1/admin":
        return Scope.ADMIN
    return Scope.READ if method in READ_METHODS else Scope.WRITE


def bearer_token(headers: dict[str, Any] | None) -> str | None:
    for name, value in (headers or {}).items():
        if name.lower() == "authorization" and isinstance(value, str):
            scheme, _, token = value.partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    return None


def admit(event: dict[str, Any], served: Callable[[str, str], bool] | None = None) -> Principal | None:
    """The caller of this request (None for public routes); raises Unauthenticated or Forbidden otherwise.

    `served(method, path)` says whether a route serves the request. One that none serves (an unknown path, a method
    the path does not take) is left to routing, which answers 404 or 405: a scope guards what a route would do, so
    a member's `PUT /v1/admin/users` is a 405 like anyone's, not a 403. Asked only when the scope is lacking.
    """
    method, path = event.get("httpMethod", "GET").upper(), event.get("path") or "/"
    if is_public(method, path):
        _principal.set(None)
        return None
    principal = authenticate(bearer_token(event.get("headers")))
    needed = required_scope(method, path)
    if not principal.allows(needed) and (served is None or served(method, path)):
        raise Forbidden("This credential lacks the scope this request needs.", details={"needs": needed})
    _principal.set(principal)
    return principal


def caller() -> Principal:
    """The authenticated caller of the current request (routes that are not public only)."""
    principal = _principal.get()
    if principal is None:
        raise Unauthenticated("Missing or invalid credentials.")
    return principal
