"""What API Gateway answers by itself, before (or instead of) the api function, in Conveyor's error contract.

The CDK stack installs these as the REST API's gateway responses (infra/api.py) and the laptop gateway sends the
same bodies (local/gateway.py), so a client sees `{"error": {"code", "message", "details"}}` on every error
whichever of the two answers it. Why each status: docs/infra.md ("API Gateway's own answers").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

# The methods API Gateway REST has (`ANY` is these seven). A request with another method (TRACE, CONNECT, a
# made-up verb) matches no method of `ANY /{proxy+}` and gets the MISSING_AUTHENTICATION_TOKEN gateway response.
METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")
# API Gateway REST's payload quota ("10 MB", not adjustable): a larger request body is REQUEST_TOO_LARGE.
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class GatewayAnswer:
    """One gateway response: its type in API Gateway, the status it is sent with, and the contract's code."""

    response_type: str
    status: int
    code: str
    message: str
    headers: tuple[tuple[str, str], ...] = ()

    def body(self, message: str | None = None, details: Any = None) -> bytes:
        error = {"code": self.code, "message": message or self.message, "details": details}
        return json.dumps({"error": error}).encode()


# The only requests that match no method: ANY on / and on /{proxy+} routes every path of the seven methods.
METHOD_NOT_ALLOWED = GatewayAnswer(
    "MISSING_AUTHENTICATION_TOKEN",
    405,
    "method_not_allowed",
    "This method is not supported; use one of " + ", ".join(METHODS) + ".",
    headers=(("Allow", ", ".join(METHODS)),),
)
PAYLOAD_TOO_LARGE = GatewayAnswer(
    "REQUEST_TOO_LARGE",
    413,
    "payload_too_large",
    f"The request body is larger than {MAX_PAYLOAD_BYTES // (1024 * 1024)} MB; upload large files to S3.",
)
# Stage throttling (rate and burst in infra/config.py): API Gateway's token bucket refills every second.
THROTTLED = GatewayAnswer(
    "THROTTLED", 429, "throttled", "Too many requests; retry after a second.", headers=(("Retry-After", "1"),)
)
# Anything else API Gateway refuses or fails with keeps its status and message, in the contract's shape.
GATEWAY_ERROR_CODE = "gateway_error"
INTEGRATION_FAILED_MESSAGE = "Internal server error"  # API Gateway's message when the function fails (502)

ANSWERS = (METHOD_NOT_ALLOWED, PAYLOAD_TOO_LARGE, THROTTLED)
