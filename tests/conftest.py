"""Fixtures: a session-wide real Postgres with per-test isolation, moto, and event-level clients.

Conveyor is configured exactly as in Lambda: through environment variables read by shared.config.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL

from shared import aws
from shared.config import reset_settings
from shared.db import dispose_engine, get_engine
from shared.identity.keys import forget_pepper
from tests.support.api import ApiClient
from tests.support.postgres import drop_database, recreate_database, server_url

EVENTS = Path(__file__).parent / "events"


def _compose_every_function() -> None:
    """Tests call services of every function in one process: offer the union of what the roots list."""
    from functions.api import composition as api
    from functions.media import composition as media
    from functions.scheduler import composition as scheduler
    from functions.worker import composition as worker

    for root in (worker, api, scheduler, media):
        root.compose()


# Never let a test reach real AWS, whatever the developer's shell holds.
for _name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
    os.environ.pop(_name, None)
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_DEFAULT_REGION="us-east-1",
    POWERTOOLS_SERVICE_NAME="conveyor-tests",
    POWERTOOLS_METRICS_NAMESPACE="ConveyorTests",
    POWERTOOLS_LOG_LEVEL="WARNING",
)
os.environ.pop("AWS_ENDPOINT_URL", None)
_compose_every_function()


def reconfigure() -> None:
    """Make shared/ re-read settings and reconnect, as a new Lambda execution environment would."""
    reset_settings()
    aws.reset_clients()
    forget_pepper()
    dispose_engine()


@pytest.fixture(scope="session")
def database_url(worker_id: str) -> Iterator[URL]:
    """One migrated database per xdist worker on a real Postgres."""
    from shared.db.migrate import upgrade

    admin = server_url()
    name = f"conveyor_test_{worker_id}_{os.getpid()}"  # concurrent runs may share one server
    url = recreate_database(admin, name)
    os.environ["DATABASE_URL"] = url.render_as_string(hide_password=False)
    reconfigure()
    upgrade()
    yield url
    dispose_engine()
    drop_database(admin, name)


@pytest.fixture
def db(database_url: URL) -> Iterator[URL]:
    """A migrated, empty database; every table is emptied after the test."""
    os.environ["DATABASE_URL"] = database_url.render_as_string(hide_password=False)
    reconfigure()
    from shared.jobs.worker import forget_heartbeat
    from shared.jobs.workers import forget_current_worker

    forget_current_worker()  # its row is deleted with the rest below; a real environment never outlives it
    forget_heartbeat()
    yield database_url
    from shared.db.models import Base

    # DELETE, children first, is ~100x faster than TRUNCATE on small tables (no new files per table).
    statements = "; ".join(f'DELETE FROM "{t.name}"' for t in reversed(Base.metadata.sorted_tables))
    with get_engine().begin() as conn:
        conn.execute(text(statements))


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """moto's in-process AWS with Conveyor's bucket, queues, notification and key, created as the stack does."""
    from moto import mock_aws

    from local.aws_resources import create_resources
    from shared.resources import ResourceNames

    with mock_aws():
        reconfigure()
        settings = create_resources(ResourceNames("test"))
        for key, value in settings.items():
            monkeypatch.setenv(key, value)
        reconfigure()
        yield settings
    reconfigure()


@pytest.fixture
def api(db: URL) -> ApiClient:
    return ApiClient()


@pytest.fixture
def make_user(db: URL):  # type: ignore[no-untyped-def]
    """`make_user(role="member", scopes=None, email=None)` → a TestUser with an API key and a client using it."""
    from shared.identity.auth import clear_cache
    from tests.support.users import create_test_user

    clear_cache()
    yield create_test_user
    clear_cache()


@pytest.fixture
def alice(make_user):  # type: ignore[no-untyped-def]
    return make_user(email="alice@example.com")


@pytest.fixture
def bob(make_user):  # type: ignore[no-untyped-def]
    return make_user(email="bob@example.com")


@pytest.fixture
def admin(make_user):  # type: ignore[no-untyped-def]
    return make_user(role="admin", email="root@example.com")
