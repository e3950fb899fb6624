"""functions/migrate answers CloudFormation's custom-resource protocol and migrates on Create/Update only."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL

from local.events import custom_resource_event
from local.lambda_context import LambdaContext
from shared.db import get_engine
from shared.db.migrate import alembic_config
from tests.support.http import local_server, read_body, reply


class ResponseCatcher:
    """Stands in for CloudFormation's pre-signed S3 response URL: records each PUT."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.url = ""

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        self.received.append(
            {"body": json.loads(read_body(request)), "content_type": request.headers.get("Content-Type")}
        )
        reply(request, 200)


@pytest.fixture
def cfn() -> Iterator[ResponseCatcher]:
    catcher = ResponseCatcher()
    with local_server(catcher.handle) as base:
        catcher.url = f"{base}/cfn-response?X-Amz-Signature=abc"
        yield catcher


def _revision() -> str | None:
    with get_engine().connect() as conn:
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one_or_none()


def _downgrade_to_base() -> None:
    from alembic import command

    with get_engine().connect() as conn:
        command.downgrade(alembic_config(conn), "base")
        conn.commit()


@pytest.mark.parametrize("request_type", ["Create", "Update"])
def test_create_and_update_migrate_to_head_and_answer_success(db: URL, cfn: ResponseCatcher, request_type: str) -> None:
    from functions.migrate.handler import handler

    _downgrade_to_base()
    assert _revision() is None

    event = custom_resource_event(request_type, cfn.url, physical_resource_id="conveyor-database-migrations")
    handler(event, LambdaContext("conveyor-test-migrate"))

    [answer] = cfn.received
    assert answer["body"]["Status"] == "SUCCESS"
    assert answer["content_type"] == ""
    assert answer["body"]["Data"]["Revision"] == _revision() is not None
    assert answer["body"]["PhysicalResourceId"] == "conveyor-database-migrations"


def test_delete_answers_success_and_touches_nothing(db: URL, cfn: ResponseCatcher) -> None:
    from functions.migrate.handler import handler

    before = _revision()
    event = custom_resource_event("Delete", cfn.url, physical_resource_id="conveyor-database-migrations")

    handler(event, LambdaContext("conveyor-test-migrate"))

    [answer] = cfn.received
    assert answer["body"]["Status"] == "SUCCESS"
    assert answer["body"]["RequestId"] == event["RequestId"]
    assert _revision() == before


def test_a_failed_migration_answers_failed_without_leaking_the_url(
    db: URL, cfn: ResponseCatcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    from functions.migrate.handler import handler
    from tests.conftest import reconfigure

    monkeypatch.setenv("DATABASE_URL", "postgresql+pg8000://admin:s3cret@/x?unix_sock=/nonexistent/.s.PGSQL.5432")
    reconfigure()
    try:
        handler(custom_resource_event("Update", cfn.url), LambdaContext("conveyor-test-migrate"))
    finally:
        monkeypatch.undo()
        reconfigure()

    [answer] = cfn.received
    assert answer["body"]["Status"] == "FAILED"
    assert "s3cret" not in json.dumps(answer)
    assert answer["body"]["Reason"].startswith("Update failed")
