"""The API resolver: routers per resource, validation, OpenAPI, Swagger UI and the error contract."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig

from functions.api import errors
from functions.api.routes import (
    admin_users,
    admin_workers,
    api_keys,
    auth,
    automations,
    credentials,
    credits,
    health,
    items,
    jobs,
    me,
    media,
    metrics,
    payments,
    projects,
    publishers,
    sales,
    schedules,
    webhooks,
)
from shared.config import get_settings

ROUTERS = (
    health,
    auth,
    me,
    api_keys,
    credentials,
    projects,
    media,
    jobs,
    schedules,
    items,
    publishers,
    automations,
    sales,
    webhooks,
    credits,
    payments,
    metrics,
    admin_users,
    admin_workers,
)

TITLE = "Conveyor API"
VERSION = "1.0.0"
DESCRIPTION = "Jobs, media, schedules, automations and credits for job-driven media applications."


def create_app() -> APIGatewayRestResolver:
    settings = get_settings()
    cors = CORSConfig(allow_origin=settings.cors_origin, max_age=600) if settings.cors_origin else None
    app = APIGatewayRestResolver(
        enable_validation=True,
        response_validation_error_http_code=500,
        cors=cors,
    )
    errors.register(app)
    for module in ROUTERS:
        app.include_router(module.router)

    @app.get("/v1/openapi.json", include_in_schema=False)
    def openapi() -> dict[str, Any]:
        return json.loads(app.get_openapi_json_schema(title=TITLE, version=VERSION, description=DESCRIPTION))

    if settings.api_docs_enabled:
        app.enable_swagger(path="/v1/docs", title=TITLE, version=VERSION, description=DESCRIPTION)
    return app
