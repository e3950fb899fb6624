"""A local API Gateway: HTTP requests in, REST proxy events to the api function, proxy responses back out.

The event is built by `local.events.api_gateway_event` (the same factory the tests use), so the handler sees
on a laptop what it sees behind API Gateway: repeated headers and query keys as multi-value maps, binary
bodies base64-encoded.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from local.events import api_gateway_event
from local.runtime import Function

log = logging.getLogger("local.gateway")

# Hop-by-hop and framing headers are the server's business, not the function's.
_SKIP_RESPONSE_HEADERS = {"content-length", "transfer-encoding", "connection", "keep-alive"}


def _response_headers(response: dict[str, Any]) -> list[tuple[str, str]]:
    """Merge `headers` and `multiValueHeaders` as API Gateway does (multi-value wins on duplicates)."""
    merged: dict[str, tuple[str, list[str]]] = {}
    for name, values in (response.get("multiValueHeaders") or {}).items():
        merged.setdefault(name.lower(), (name, []))[1].extend(str(v) for v in values)
    for name, value in (response.get("headers") or {}).items():
        _, values = merged.setdefault(name.lower(), (name, []))
        if str(value) not in values:
            values.append(str(value))
    return [(name, v) for key, (name, values) in merged.items() if key not in _SKIP_RESPONSE_HEADERS for v in values]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ConveyorLocal"

    def _proxy(self) -> None:
        started = time.monotonic()
        url = urlsplit(self.path)
        body = self._read_body()
        headers = list(self.headers.items())
        present = {k.lower() for k, _ in headers}
        client_ip = self.client_address[0]
        for name, value in (
            ("X-Forwarded-For", client_ip),
            ("X-Forwarded-Proto", "http"),
            ("X-Forwarded-Port", str(self.server.server_address[1])),
        ):
            if name.lower() not in present:
                headers.append((name, value))
        event = api_gateway_event(
            self.command,
            unquote(url.path) or "/",
            headers=headers,
            query=parse_qsl(url.query, keep_blank_values=True),
            body=body,
            source_ip=client_ip,
        )
        try:
            response = self.server.function.invoke(event)  # type: ignore[attr-defined]
            status = int(response["statusCode"])
            payload = response.get("body") or ""
            data = base64.b64decode(payload) if response.get("isBase64Encoded") else payload.encode()
            out_headers = _response_headers(response)
        except Exception:
            # API Gateway answers 502 when the integration fails or returns a malformed response.
            log.exception("%s %s: the api function failed", self.command, url.path)
            status, data = 502, json.dumps({"message": "Internal server error"}).encode()
            out_headers = [("Content-Type", "application/json")]
        self.send_response(status)
        for name, value in out_headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        log.info("%s %s %s %.0f ms", self.command, self.path, status, (time.monotonic() - started) * 1000)

    def _read_body(self) -> bytes | None:
        """The raw request body, whole (API Gateway buffers it too), from Content-Length or chunked framing."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()  # the CRLF after each chunk
            while self.rfile.readline().strip():  # trailers, up to the empty line
                pass
            return b"".join(chunks) or None
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else None

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _proxy

    def log_message(self, format: str, *args: Any) -> None:
        """Requests are logged once, with timing, in `_proxy`; keep the stdlib's stderr lines quiet."""


class GatewayServer(ThreadingHTTPServer):
    """Bound at construction (so a busy port fails before anything else starts); `function` is set before serving."""

    daemon_threads = True
    function: Function

    def __init__(self, host: str, port: int) -> None:
        super().__init__((host, port), _Handler)
