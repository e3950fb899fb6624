"""Liveness and readiness: 200 when the database answers, 503 when it does not."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router
from pydantic import BaseModel, ConfigDict

from shared.db.health import database_ok

router = Router()


class Health(BaseModel):
    model_config = ConfigDict(defer_build=True)

    status: str
    checks: dict[str, str]


@router.get(
    "/v1/health",
    tags=["meta"],
    summary="Health of the API and its database",
    responses={200: {"description": "Up"}, 503: {"description": "The database does not answer (the same body)"}},
)
def health() -> tuple[Health, int]:
    ok = database_ok()
    body = Health(status="ok" if ok else "unavailable", checks={"database": "ok" if ok else "unreachable"})
    return body, 200 if ok else 503
