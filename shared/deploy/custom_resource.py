"""The CloudFormation custom-resource protocol: always answer, or the stack waits an hour for a timeout.

The answer is a PUT of a JSON document to the pre-signed `ResponseURL`, with an empty content type (the
signature covers it). Failure reasons go to CloudFormation's console, so they carry no secrets.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from aws_lambda_powertools import Logger

logger = Logger(child=True)


def respond(
    event: dict[str, Any],
    *,
    status: str,
    physical_resource_id: str,
    data: dict[str, Any] | None = None,
    reason: str = "",
    log_stream_name: str = "",
) -> None:
    body = json.dumps(
        {
            "Status": status,
            "Reason": (reason or f"See CloudWatch log stream {log_stream_name}")[:1000],
            "PhysicalResourceId": physical_resource_id,
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
            "NoEcho": False,
            "Data": data or {},
        }
    ).encode()
    request = urllib.request.Request(  # noqa: S310 (the URL is CloudFormation's pre-signed S3 URL)
        event["ResponseURL"],
        data=body,
        method="PUT",
        headers={"Content-Type": "", "Content-Length": str(len(body))},
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        logger.info("custom resource answered", status=status, http_status=response.status)
