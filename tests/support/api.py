"""Call the API function the way API Gateway does: a REST proxy event in, a proxy response out."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from local.events import api_gateway_event
from local.lambda_context import LambdaContext


@dataclass
class ApiResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def error_code(self) -> str | None:
        data = self.json
        return data.get("error", {}).get("code") if isinstance(data, dict) else None


class ApiClient:
    def __init__(self, token: str | None = None) -> None:
        self.token = token

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        body: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        query: dict[str, str] | list[tuple[str, str]] | None = None,
    ) -> ApiResponse:
        from functions.api.handler import handler

        all_headers = {"Accept": "application/json", "User-Agent": "conveyor-tests"}
        if self.token:
            all_headers["Authorization"] = f"Bearer {self.token}"
        if json_body is not None:
            body = json.dumps(json_body)
            all_headers["Content-Type"] = "application/json"
        all_headers.update(headers or {})
        event = api_gateway_event(method, path, headers=all_headers, query=query or (), body=body)
        result = handler(event, LambdaContext("conveyor-test-api", timeout_s=29))
        raw = result.get("body") or ""
        data = base64.b64decode(raw) if result.get("isBase64Encoded") else raw.encode()
        merged = {k.lower(): v for k, v in (result.get("headers") or {}).items()}
        for k, v in (result.get("multiValueHeaders") or {}).items():
            merged[k.lower()] = v[-1] if isinstance(v, list) else v
        return ApiResponse(status=result["statusCode"], headers=merged, body=data)

    def get(self, path: str, **kw: Any) -> ApiResponse:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> ApiResponse:
        return self.request("POST", path, **kw)

    def patch(self, path: str, **kw: Any) -> ApiResponse:
        return self.request("PATCH", path, **kw)

    def delete(self, path: str, **kw: Any) -> ApiResponse:
        return self.request("DELETE", path, **kw)
