"""Calling a URL a user gave us, safely: the SSRF guard and a POST pinned to the addresses it checked.

Job webhooks and the webhook publisher both call user-supplied URLs. `check_webhook_url` runs when the URL is
accepted (a fast 422) and again right before every call, because DNS may answer differently by then
(rebinding); `post` connects to the exact addresses that were checked, never to a second lookup, and follows
no redirects, so a receiver cannot bounce us into the private network.
"""

from __future__ import annotations

import functools
import http.client
import ipaddress
import socket
import ssl
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from shared.config import get_settings
from shared.errors import InvalidInput

MAX_URL_CHARS = 2048
TIMEOUT_S = 10.0
RESPONSE_SNIPPET_BYTES = 512
REFUSAL_CODE = "webhook_url_not_allowed"

#: Cloud instance metadata endpoints: refused even for allow-listed hosts (credentials live behind them).
METADATA_ADDRESSES = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")})
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# --- the URL guard ----------------------------------------------------------------------------------------------


class WebhookUrlRefused(InvalidInput):
    """The URL may not be called: wrong scheme, credentials in it, or it leads to a non-public address."""

    code = REFUSAL_CODE


class UnresolvableHost(WebhookUrlRefused):
    """DNS gave no answer. At job creation that is a refusal; before a delivery it is a reason to retry."""


@dataclass(frozen=True)
class CheckedUrl:
    """A URL that passed the guard, with the addresses it was checked against: connect to these, nothing else."""

    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]
    allow_listed: bool


def _refuse(message: str, reason: str, **details: Any) -> WebhookUrlRefused:
    return WebhookUrlRefused(message, details={"reason": reason, **details})


def _resolve(host: str, port: int) -> list[str]:
    """Every address the host resolves to (a seam for tests: they monkeypatch this to fake DNS)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """An IPv4 address hidden in an IPv6 one (mapped, 6to4, Teredo, NAT64): judged like the IPv4 address."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def address_refusal(ip: IPAddress) -> str | None:
    """Why this address may not be called (None: it is a public unicast address)."""
    if ip in METADATA_ADDRESSES:
        return "metadata"
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None and (reason := address_refusal(embedded)):
            return reason
        if ip.is_site_local:
            return "site_local"
    for flag in ("is_loopback", "is_link_local", "is_multicast", "is_unspecified", "is_reserved", "is_private"):
        if getattr(ip, flag):
            return flag.removeprefix("is_")
    if not ip.is_global:  # 100.64.0.0/10 (carrier-grade NAT) and friends
        return "not_global"
    return None


def _allow_listed(host: str) -> bool:
    allowed = {h.strip().lower().strip("[]").rstrip(".") for h in get_settings().webhook_allowed_hosts}
    return host in allowed


def check_webhook_url(url: str) -> CheckedUrl:
    """Refuse (InvalidInput, code `webhook_url_not_allowed`) any URL a webhook may not call; return what to call.

    https only (http for allow-listed hosts), no user:password, and every address the host resolves to must be
    public: one private answer is enough to refuse, since we could not choose which one a client would use.
    Hosts in `settings.webhook_allowed_hosts` skip the address check (the laptop stack calls loopback), but
    never reach the cloud metadata addresses.
    """
    if not isinstance(url, str) or not url or len(url) > MAX_URL_CHARS:
        raise _refuse(f"The webhook URL must be 1-{MAX_URL_CHARS} characters.", "length")
    if any(c.isspace() or ord(c) < 32 for c in url):
        raise _refuse("The webhook URL contains whitespace or control characters.", "malformed")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _refuse("The webhook URL is malformed.", "malformed") from None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if scheme not in ("https", "http") or not host:
        raise _refuse("The webhook URL must be an https:// URL with a host.", "scheme")
    if parts.username is not None or parts.password is not None:
        raise _refuse("The webhook URL must not contain credentials.", "credentials", host=host)
    allow_listed = _allow_listed(host)
    if scheme == "http" and not allow_listed:
        raise _refuse("The webhook URL must use https.", "scheme", host=host)
    port = port or (443 if scheme == "https" else 80)
    try:
        addresses = _resolve(host, port)
    except (OSError, UnicodeError) as exc:
        raise UnresolvableHost(
            "The webhook URL's host does not resolve.", details={"reason": "unresolvable", "host": host}
        ) from exc
    if not addresses:
        raise UnresolvableHost(
            "The webhook URL's host does not resolve.", details={"reason": "unresolvable", "host": host}
        )
    for address in addresses:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            raise _refuse("The webhook URL's host resolves to an unusable address.", "malformed", host=host) from None
        reason = "metadata" if ip in METADATA_ADDRESSES else (None if allow_listed else address_refusal(ip))
        if reason is not None:
            raise _refuse(
                "The webhook URL leads to a private, loopback, link-local or otherwise non-public address.",
                reason,
                host=host,
                address=str(ip),
            )
    return CheckedUrl(url, scheme, host, port, tuple(addresses), allow_listed)


# --- the HTTP call: pinned to the checked addresses, no proxies, no redirects ----------------------------------


def _connect_pinned(addresses: tuple[str, ...], port: int, timeout: Any) -> socket.socket:
    last: OSError | None = None
    for address in addresses:
        try:
            return socket.create_connection((address, port), timeout)
        except OSError as exc:
            last = exc
    raise last or OSError("no address to connect to")


def _pinned(base: type[http.client.HTTPConnection]) -> type[http.client.HTTPConnection]:
    """A connection class that keeps the URL's host (Host header, TLS SNI and certificate check) but connects to
    the addresses the guard approved instead of resolving the name again."""

    class Pinned(base):  # type: ignore[misc,valid-type]
        def __init__(self, host: str, *, addresses: tuple[str, ...], **kwargs: Any) -> None:
            super().__init__(host, **kwargs)

            def create_connection(address: tuple[str, int], timeout: Any = None, source_address: Any = None) -> Any:
                return _connect_pinned(addresses, address[1], timeout)

            self._create_connection = create_connection

    return Pinned


_PinnedHTTP = _pinned(http.client.HTTPConnection)
_PinnedHTTPS = _pinned(http.client.HTTPSConnection)


class _PinnedHandler(urllib.request.AbstractHTTPHandler):
    def __init__(self, addresses: tuple[str, ...]) -> None:
        super().__init__()
        self.addresses = addresses

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(functools.partial(_PinnedHTTP, addresses=self.addresses), req)

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        factory = functools.partial(_PinnedHTTPS, addresses=self.addresses)
        return self.do_open(factory, req, context=ssl.create_default_context())

    http_request = urllib.request.AbstractHTTPHandler.do_request_
    https_request = urllib.request.AbstractHTTPHandler.do_request_


def post(checked: CheckedUrl, body: bytes, headers: dict[str, str], *, timeout: float = TIMEOUT_S) -> tuple[int, bytes]:
    """POST and return (status, the first bytes of the answer). Any status comes back as a value: the opener has
    no error processor, no redirect handler and no proxy handler, only the pinned connection."""
    opener = urllib.request.OpenerDirector()
    opener.add_handler(_PinnedHandler(checked.addresses))
    request = urllib.request.Request(checked.url, data=body, headers=headers, method="POST")  # noqa: S310 - checked
    with opener.open(request, timeout=timeout) as response:
        return int(response.status), response.read(RESPONSE_SNIPPET_BYTES)
