"""The laptop stack: embedded Postgres + moto + the event sources AWS would run, around Conveyor's own functions.

State starts fresh at every start (the lead's decision): the embedded database is dropped and recreated and
moto is in-memory, so the database and the emulated S3/SQS never contradict each other. Only the admin API key
survives restarts (in `<state>/admin-key`), so the key a developer copied keeps working.
"""

from __future__ import annotations

import logging
import os
import threading
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import make_url

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_STATE_DIR = REPO_ROOT / ".local"
ADMIN_EMAIL = "admin@localhost"

log = logging.getLogger("local.stack")


@dataclass(frozen=True)
class StackConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    tick_s: float = 60.0
    scheduler: bool = True
    aws_endpoint: str | None = None
    state_dir: Path = DEFAULT_STATE_DIR
    database_url: str | None = None  # a user's own Postgres (from DATABASE_URL): used as is, nothing dropped


@dataclass(frozen=True)
class StackInfo:
    api_url: str
    aws_endpoint: str
    database: str
    bucket: str
    jobs_queue_url: str
    media_queue_url: str
    admin_key: str


def _reset_caches() -> None:
    """Settings, clients and the engine are cached per process: re-read them after the environment changed."""
    from shared import aws
    from shared.config import reset_settings
    from shared.db import dispose_engine

    reset_settings()
    aws.reset_clients()
    dispose_engine()


def _admin_key(state_dir: Path) -> str:
    """Create the admin (the database is fresh) with the key kept from earlier starts, and keep it for the next."""
    from shared.identity.admin import ensure_admin

    path = state_dir / "admin-key"
    stored = path.read_text().strip() if path.exists() else None
    key = ensure_admin(email=ADMIN_EMAIL, raw_key=stored or None)
    if key != stored:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(key + "\n")
    path.chmod(0o600)
    return key


class Stack:
    """Starts the parts in dependency order; `stop` (also run when `start` fails half-way) undoes them in reverse."""

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.stop_event = threading.Event()
        self._exit = ExitStack()
        self._threads: list[threading.Thread] = []
        self.postgres_pid: int | None = None

    def start(self) -> StackInfo:
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> StackInfo:
        config = self.config
        state_dir = config.state_dir.resolve()
        state_dir.mkdir(parents=True, exist_ok=True)

        # Bind the HTTP port first: a busy port is the most likely failure and should cost nothing.
        from local.gateway import GatewayServer

        http = GatewayServer(config.host, config.port)
        self._exit.callback(http.server_close)

        database_url = self._start_postgres(state_dir)
        aws_endpoint = self._start_aws()

        from shared.db.migrate import upgrade

        os.environ["DATABASE_URL"] = database_url
        _reset_caches()
        revision = upgrade()
        log.info("database migrated to %s", revision)

        from local.aws_resources import create_resources
        from shared.resources import ResourceNames

        names = ResourceNames("local")
        os.environ.update(create_resources(names))
        # A laptop is for trying things: demo job types on, and webhooks may call a receiver on this machine.
        os.environ.setdefault("CONVEYOR_DEMO_JOB_TYPES", "true")
        os.environ.setdefault("CONVEYOR_WEBHOOK_ALLOWED_HOSTS", '["127.0.0.1", "localhost"]')
        _reset_caches()
        self._exit.callback(_reset_caches)  # closes the functions' connections before Postgres stops

        admin_key = _admin_key(state_dir)

        from local.event_sources import SchedulerTicker, SqsPoller
        from local.runtime import load_functions
        from shared import aws
        from shared.config import get_settings

        functions = load_functions(names.stage)
        settings = get_settings()
        assert settings.jobs_queue_url
        assert settings.media_queue_url

        self._exit.callback(self._join_threads)  # after the HTTP server stopped, before the engine and servers go
        http.function = functions.api
        self._spawn(threading.Thread(target=http.serve_forever, args=(0.2,), name="http", daemon=True))
        self._exit.callback(http.shutdown)
        sqs = aws.client("sqs")
        self._spawn(SqsPoller(sqs, settings.jobs_queue_url, functions.worker, self.stop_event))
        self._spawn(SqsPoller(sqs, settings.media_queue_url, functions.media, self.stop_event))
        if config.scheduler:
            self._spawn(SchedulerTicker(functions.scheduler, config.tick_s, self.stop_event))

        host, port = http.server_address[:2]
        if host in ("0.0.0.0", "::", ""):  # listening everywhere: print a URL a browser can open
            host = "127.0.0.1"
        return StackInfo(
            api_url=f"http://{host}:{port}",
            aws_endpoint=aws_endpoint,
            database=make_url(database_url).render_as_string(hide_password=True),
            bucket=settings.media_bucket,
            jobs_queue_url=settings.jobs_queue_url,
            media_queue_url=settings.media_queue_url,
            admin_key=admin_key,
        )

    def _start_postgres(self, state_dir: Path) -> str:
        if self.config.database_url:
            log.warning("using DATABASE_URL as is (nothing dropped); emulated S3 and SQS start empty")
            return self.config.database_url
        from local.postgres import EmbeddedPostgres

        postgres = EmbeddedPostgres(state_dir)
        self._exit.callback(postgres.stop)
        url = postgres.start()
        self.postgres_pid = postgres.pid
        return url

    def _start_aws(self) -> str:
        os.environ.update(
            {
                "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_REGION": "us-east-1",
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
            }
        )
        os.environ.pop("AWS_SESSION_TOKEN", None)
        os.environ.pop("AWS_PROFILE", None)
        if self.config.aws_endpoint:
            endpoint = self.config.aws_endpoint
        else:
            from local.aws_emulator import MotoServer

            moto = MotoServer()
            endpoint = moto.start()
            self._exit.callback(moto.stop)
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        return endpoint

    def _spawn(self, thread: threading.Thread) -> None:
        thread.start()
        self._threads.append(thread)

    def _join_threads(self, timeout_s: float = 15.0) -> None:
        """Let running invocations finish (bounded: a stuck one must not keep Postgres running forever)."""
        for thread in self._threads:
            thread.join(timeout_s)
            if thread.is_alive():
                log.warning("%s did not stop within %s s", thread.name, timeout_s)
        self._threads.clear()

    def stop(self) -> None:
        """Stop the HTTP server, the event sources, then the emulator and Postgres (callbacks run in reverse)."""
        self.stop_event.set()
        self._exit.close()
