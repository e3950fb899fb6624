"""boto3 clients, created once per execution environment; the endpoint is overridable for the laptop stack."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

from shared.config import get_settings


@cache
def client(service: str) -> Any:
    settings = get_settings()
    config = Config(
        retries={"max_attempts": 3, "mode": "standard"},
        s3={"addressing_style": "path"} if settings.aws_endpoint_url else None,
        signature_version="s3v4" if service == "s3" else None,
    )
    return boto3.client(
        service,
        region_name=settings.aws_region,
        endpoint_url=settings.aws_endpoint_url,
        config=config,
    )


def reset_clients() -> None:
    """Forget cached clients (after the endpoint or region changed)."""
    client.cache_clear()
