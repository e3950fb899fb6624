"""`/v1/webhooks/secret` (your signing secret) and `/v1/jobs/<job_id>/webhooks` (a job's delivery attempts).

The signing secret is shown exactly once, in the answer to the POST that creates it; afterwards only its
metadata is visible. Verify deliveries with any Standard Webhooks library (docs/webhooks.md).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from pydantic import BaseModel, ConfigDict, Field

from functions.api.auth import caller
from functions.api.responses import extra
from shared import webhooks

router = Router()


class SigningSecretCreated(BaseModel):
    model_config = ConfigDict(defer_build=True)

    id: uuid.UUID
    secret: str = Field(description="`whsec_<base64>`. Shown only now: store it; rotate to get a new one.")
    created_at: datetime


class SigningSecretInfo(BaseModel):
    model_config = ConfigDict(defer_build=True)

    configured: bool = Field(description="False until a secret exists (POST here, or the first delivery).")
    id: uuid.UUID | None = None
    last4: str | None = None
    created_at: datetime | None = None


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True, defer_build=True)

    id: uuid.UUID = Field(description="Also the `webhook-id` header: the same for every attempt, for deduping.")
    job_id: uuid.UUID
    event: str
    url: str
    status: str = Field(description="pending, delivered or failed")
    attempts: int
    response_status: int | None
    last_error: str | None
    next_attempt_at: datetime | None = Field(description="While pending: the next attempt runs by then.")
    delivered_at: datetime | None
    payload: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class DeliveryList(BaseModel):
    model_config = ConfigDict(defer_build=True)

    items: list[DeliveryOut]


@router.post(
    "/v1/webhooks/secret",
    tags=["webhooks"],
    summary="Create or rotate your webhook signing secret (shown once)",
    responses=extra(201),
)
def rotate_signing_secret() -> tuple[SigningSecretCreated, int]:
    issued = webhooks.rotate_secret(caller().user_id)
    return SigningSecretCreated(id=issued.credential_id, secret=issued.secret, created_at=issued.created_at), 201


@router.get("/v1/webhooks/secret", tags=["webhooks"], summary="Whether you have a signing secret (never its value)")
def get_signing_secret() -> SigningSecretInfo:
    row = webhooks.secret_info(caller().user_id)
    if row is None:
        return SigningSecretInfo(configured=False)
    return SigningSecretInfo(configured=True, id=row.id, last4=row.last4, created_at=row.created_at)


@router.get("/v1/jobs/<job_id>/webhooks", tags=["webhooks"], summary="A job's webhook deliveries and their attempts")
def list_job_webhooks(job_id: uuid.UUID) -> DeliveryList:
    principal = caller()
    rows = webhooks.list_deliveries(principal.user_id, job_id, admin=principal.is_admin)
    return DeliveryList(items=[DeliveryOut.model_validate(r) for r in rows])
