"""A local API Gateway: HTTP requests in, REST proxy events to the api function, proxy responses back out.

The event is built by `local.events.api_gateway_event` (the same factory the tests use), so the handler sees
on a laptop what it sees behind API Gateway: repeated headers and query keys as multi-value maps, binary
bodies base64-encoded. What API Gateway answers by itself it answers here too, in the error contract
(shared/api_gateway.py): 405 for a method REST APIs do not have, 413 over the 10 MB payload quota, and no HTML
error page ever. The server has a real listen backlog, so a burst of connections waits instead of being reset.
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
from shared import api_gateway

log = logging.getLogger("local.gateway")

# Hop-by-hop and framing headers are the server's business, not the function's.
_SKIP_RESPONSE_HEADERS = {"content-length", "transfer-encoding", "connection", "keep-alive"}
# A body over the quota is read and dropped up to this size before the 413 (so the client reads the answer
# instead of a reset connection); past it the connection is closed unread.
_DRAIN_LIMIT_BYTES = 8 * api_gateway.MAX_PAYLOAD_BYTES
_READ_CHUNK = 1 << 16


class _TooLarge(Exception):
    """The request body is over API Gateway's payload quota."""


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
        try:
            body = self._read_body()
        except _TooLarge:
            self._answer(api_gateway.PAYLOAD_TOO_LARGE)
            log.info("%s %s 413 (body over %d bytes)", self.command, self.path, api_gateway.MAX_PAYLOAD_BYTES)
            return
        except ValueError:  # a Content-Length or chunk size that is not a number
            self.send_error(400, "Bad request framing")
            return
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
            status = 502
            data = _gateway_error(api_gateway.INTEGRATION_FAILED_MESSAGE)
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
        """The raw request body, whole (API Gateway buffers it too), from Content-Length or chunked framing.

        Past API Gateway's payload quota it raises _TooLarge, having read and dropped the rest of the body (up to
        _DRAIN_LIMIT_BYTES; beyond, the connection is closed unread); ValueError for framing that is no number.
        """
        limit = api_gateway.MAX_PAYLOAD_BYTES
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks, total = [], 0
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                total += size
                if total <= limit:
                    chunks.append(self.rfile.read(size))
                elif total <= _DRAIN_LIMIT_BYTES:
                    self._discard(size)
                else:
                    self.close_connection = True
                    raise _TooLarge
                self.rfile.readline()  # the CRLF after each chunk
            while self.rfile.readline().strip():  # trailers, up to the empty line
                pass
            if total > limit:
                raise _TooLarge
            return b"".join(chunks) or None
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0:
            raise ValueError("negative Content-Length")
        if length > limit:
            if length <= _DRAIN_LIMIT_BYTES:
                self._discard(length)
            else:
                self.close_connection = True
            raise _TooLarge
        return self.rfile.read(length) if length else None

    def _discard(self, size: int) -> None:
        remaining = size
        while remaining > 0 and (data := self.rfile.read(min(remaining, _READ_CHUNK))):
            remaining -= len(data)

    def _answer(self, answer: api_gateway.GatewayAnswer, message: str | None = None, details: Any = None) -> None:
        """One of API Gateway's own answers, in the error contract."""
        self._send_json(answer.status, answer.body(message, details), answer.headers)

    def _send_json(self, status: int, data: bytes, headers: tuple[tuple[str, str], ...] = ()) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def parse_request(self) -> bool:
        """The stdlib's parsing, then API Gateway's method check: a method REST APIs lack is a JSON 405."""
        if not super().parse_request():
            return False
        if self.command not in api_gateway.METHODS:
            self.close_connection = True  # its body, if any, is not read
            self._answer(api_gateway.METHOD_NOT_ALLOWED, details={"method": self.command})
            log.info("%s %s 405", self.command, self.path)
            return False
        return True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The stdlib's errors (a bad request line, a URI or header too long, ...) as JSON, never an HTML page."""
        self.close_connection = True  # the request could not be read whole: the connection is out of step
        phrase = self.responses.get(code, ("Error", ""))[0]
        log.warning("%s: %d %s", self.requestline or "-", code, message or phrase)
        if getattr(self, "request_version", "") not in ("HTTP/1.0", "HTTP/1.1"):
            self.request_version = "HTTP/1.1"  # a status line and headers even when the request line did not parse
        self._send_json(code, _gateway_error(message or phrase))

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _proxy

    def log_message(self, format: str, *args: Any) -> None:
        """Requests are logged once, with timing, in `_proxy`; keep the stdlib's stderr lines quiet."""


def _gateway_error(message: str) -> bytes:
    """API Gateway's DEFAULT_4XX/5XX answer as infra/api.py templates it: the status's message, the contract's shape."""
    return json.dumps({"error": {"code": api_gateway.GATEWAY_ERROR_CODE, "message": message, "details": None}}).encode()


class GatewayServer(ThreadingHTTPServer):
    """Bound at construction (so a busy port fails before anything else starts); `function` is set before serving.

    One thread per connection; the listen backlog (socketserver's default is 5) holds a burst of new connections
    until they are accepted, as API Gateway never resets a client for arriving at the same time as others.
    """

    daemon_threads = True
    request_queue_size = 1024  # the kernel caps it at net.core.somaxconn (4096 on current Linux)
    function: Function

    def __init__(self, host: str, port: int) -> None:
        super().__init__((host, port), _Handler)
