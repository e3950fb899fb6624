"""The API resolver: routers per resource, validation, OpenAPI, Swagger UI and the error contract."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response

from functions.api import errors, request_guard, responses
from functions.api.routes import (
    admin_api_keys,
    admin_users,
    admin_workers,
    api_keys,
    auth,
    automations,
    cache,
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
    templates,
    translations,
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
    templates,
    webhooks,
    credits,
    payments,
    metrics,
    translations,
    cache,
    admin_users,
    admin_api_keys,
    admin_workers,
)

TITLE = "Conveyor API"
VERSION = "1.0.0"
DESCRIPTION = "Jobs, media, schedules, automations and credits for job-driven media applications."
DOCS_PATH = "/v1/docs"


def create_app() -> APIGatewayRestResolver:
    settings = get_settings()
    cors = CORSConfig(allow_origin=settings.cors_origin, max_age=600) if settings.cors_origin else None
    app = request_guard.GuardedResolver(
        enable_validation=True,
        response_validation_error_http_code=500,
        cors=cors,
    )
    errors.register(app)
    for module in ROUTERS:
        app.include_router(module.router)
    responses.document(app._static_routes + app._dynamic_routes)  # Powertools keeps its routes in these two lists

    @app.get("/v1/openapi.json", include_in_schema=False)
    def openapi() -> dict[str, Any]:
        return json.loads(app.get_openapi_json_schema(title=TITLE, version=VERSION, description=DESCRIPTION))

    if settings.api_docs_enabled:
        serve_docs(app)
    return app


def serve_docs(app: APIGatewayRestResolver) -> None:
    """Swagger UI at DOCS_PATH: the route exists from the start, Powertools' handler is built on its first request.

    `enable_swagger` imports Powertools' OpenAPI models (~0.1 s of pydantic class building, measured with
    bench/coldstart.py's setup), which only the documentation routes need: called in `create_app`, it would put
    that on every cold start.
    """
    built: list[Callable[[], Response[str]]] = []

    @app.get(DOCS_PATH, include_in_schema=False)
    def docs() -> Response[str]:
        if not built:
            built.append(swagger_handler(app))
        return built[0]()


def swagger_handler(app: APIGatewayRestResolver) -> Callable[[], Response[str]]:
    """Powertools' own Swagger UI handler for `app`, without registering a second route for it.

    `enable_swagger` defines the handler (a closure over `app`: the same page, spec and `?format=` answers as when
    it is registered directly) and registers it with `self.get(...)`; for that one call, `app.get` is an instance
    attribute that keeps the handler instead.
    """
    kept: list[Callable[[], Response[str]]] = []
    app.get = lambda *_args, **_kwargs: kept.append  # type: ignore[method-assign]
    try:
        app.enable_swagger(path=DOCS_PATH, title=TITLE, version=VERSION, description=DESCRIPTION)
    finally:
        del app.get
    return kept[0]
