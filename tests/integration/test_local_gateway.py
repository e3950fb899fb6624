"""The laptop gateway over real sockets, in front of the real api function: it holds a burst of connections,
and what API Gateway answers by itself (405 for a method REST APIs lack, 413 over 10 MB) it answers in the
error contract, never with an HTML page."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy.engine import URL

from local.gateway import GatewayServer
from local.runtime import API_TIMEOUT_S, Function
from shared import api_gateway


def serve(server: GatewayServer) -> threading.Thread:
    from functions.api.handler import handler

    server.function = Function("conveyor-test-api", handler, API_TIMEOUT_S)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    return thread


@pytest.fixture
def gateway(db: URL) -> Iterator[tuple[str, int]]:
    server = GatewayServer("127.0.0.1", 0)
    thread = serve(server)
    yield server.server_address[:2]
    server.shutdown()
    server.server_close()
    thread.join(5)


def exchange(address: tuple[str, int], request: bytes, timeout_s: float = 30) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes, read the whole answer (the server closes, or Content-Length says it is complete)."""
    with socket.create_connection(address, timeout=timeout_s) as sock:
        sock.sendall(request)
        return read_response(sock)


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(body) < length and (chunk := sock.recv(65536)):
        body += chunk
    return status, headers, body


def request(method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: localhost", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def test_200_connections_arriving_at_once_all_connect_and_are_answered(db: URL) -> None:
    """A burst arrives faster than connections are accepted (here: before the accept loop runs at all). The
    kernel holds only `backlog` handshaken connections; with socketserver's default of 5 the rest of the SYNs
    are dropped, so those clients hang in SYN retries (1 s, 3 s, ...) or give up: API Gateway never does that."""
    server = GatewayServer("127.0.0.1", 0)
    address = server.server_address[:2]
    try:
        # Given 200 clients connecting at the same moment, with a connect timeout well under the SYN retry
        with ThreadPoolExecutor(200) as pool:
            attempts = list(pool.map(lambda _: _connect(address, timeout_s=0.8), range(200)))
        connected = [s for s in attempts if s is not None]
        assert len(connected) == 200, f"only {len(connected)} of 200 connected"

        # When the gateway serves them, each sending its request at once
        thread = serve(server)
        try:
            with ThreadPoolExecutor(200) as pool:
                statuses = list(pool.map(_get_health, connected))
        finally:
            server.shutdown()
            thread.join(5)
    finally:
        for sock in attempts:
            if sock is not None:
                sock.close()
        server.server_close()

    # Then every one is answered by the function
    assert statuses == [200] * 200


def _connect(address: tuple[str, int], timeout_s: float) -> socket.socket | None:
    try:
        return socket.create_connection(address, timeout=timeout_s)
    except OSError:
        return None


def _get_health(sock: socket.socket) -> int:
    sock.settimeout(60)
    sock.sendall(request("GET", "/v1/health"))
    return read_response(sock)[0]


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "PROPFIND"])
def test_a_method_rest_apis_lack_is_a_json_405(gateway: tuple[str, int], method: str) -> None:
    status, headers, body = exchange(gateway, request(method, "/v1/health"))

    assert status == 405
    assert headers["content-type"] == "application/json"
    assert headers["allow"] == "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"
    error = json.loads(body)["error"]
    assert (error["code"], error["details"]) == ("method_not_allowed", {"method": method})
    assert error["message"]


def test_a_body_over_10_mb_is_a_json_413_and_never_reaches_the_function(gateway: tuple[str, int]) -> None:
    big = b"x" * (11 * 1024 * 1024)

    status, headers, body = exchange(
        gateway, request("POST", "/v1/projects", big, {"Content-Type": "application/octet-stream"})
    )

    assert status == 413
    assert headers["content-type"] == "application/json"
    assert json.loads(body)["error"]["code"] == "payload_too_large"


def test_a_chunked_body_over_10_mb_is_a_json_413(gateway: tuple[str, int]) -> None:
    chunk = b"x" * (1024 * 1024)
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(11)) + b"0\r\n\r\n"
    head = request("POST", "/v1/projects", headers={"Transfer-Encoding": "chunked"})

    status, _, body = exchange(gateway, head + chunks)

    assert status == 413
    assert json.loads(body)["error"]["code"] == "payload_too_large"


def test_a_body_of_exactly_10_mb_reaches_the_function(gateway: tuple[str, int]) -> None:
    body = b"x" * api_gateway.MAX_PAYLOAD_BYTES

    status, _, answer = exchange(
        gateway, request("POST", "/v1/no-such-route", body, {"Content-Type": "application/octet-stream"})
    )

    # The function answered (whatever it makes of an anonymous request), not the gateway's quota check
    error = json.loads(answer)["error"]
    assert error["code"] != api_gateway.PAYLOAD_TOO_LARGE.code
    assert 400 <= status < 500, error


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", 414),
        (b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: many\r\n\r\n", 400),
        (b"GET / HTTP/9.9\r\n\r\n", 505),
    ],
    ids=["uri-too-long", "bad-content-length", "bad-version"],
)
def test_malformed_requests_get_json_errors_not_html(gateway: tuple[str, int], raw: bytes, status: int) -> None:
    got, headers, body = exchange(gateway, raw)

    assert got == status
    assert headers["content-type"] == "application/json"
    assert b"<html" not in body.lower()
    assert json.loads(body)["error"]["code"] == api_gateway.GATEWAY_ERROR_CODE
