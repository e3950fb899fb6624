"""The embedded Postgres of the laptop stack: a real PostgreSQL (pgserver) under the state folder, started fresh.

pgserver listens on a unix socket only and keeps a list of the processes using a server in the data folder;
a SIGKILLed earlier run leaves its pid there (and the server up), so dead pids are pruned before starting.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import psutil

log = logging.getLogger("local.postgres")

DATABASE = "conveyor"
_HANDLE_LIST = ".handle_pids.json"


class AlreadyRunningError(RuntimeError):
    """Another laptop stack uses the same state folder: dropping its database under it would break it."""


def runtime_dir(state_dir: Path) -> Path:
    """The XDG runtime folder pgserver keeps its lock in; it must be set before pgserver is imported."""
    path = state_dir / "run"
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def _prune_dead_handles(pgdata: Path) -> None:
    """Forget processes that died without deregistering, so our exit is the last one and stops the server."""
    handles = pgdata / _HANDLE_LIST
    if not handles.exists():
        return
    try:
        pids: list[int] = json.loads(handles.read_text() or "[]")
    except ValueError:
        pids = []
    alive = []
    for pid in pids:
        if pid == os.getpid() or not psutil.pid_exists(pid):
            continue
        try:
            cmdline = " ".join(psutil.Process(pid).cmdline())
        except psutil.Error:
            continue
        if "local" in cmdline and "python" in cmdline.lower():
            alive.append(pid)
    if alive:
        raise AlreadyRunningError(
            f"another laptop stack (pid {', '.join(map(str, alive))}) uses {pgdata}; stop it or pass --state-dir"
        )
    if pids:
        log.info("removing stale registrations %s left by an earlier run", pids)
    handles.write_text("[]")


class EmbeddedPostgres:
    """Starts pgserver in `<state_dir>/pg` and stops it again (no orphan postmaster)."""

    def __init__(self, state_dir: Path) -> None:
        self.pgdata = state_dir / "pg"
        self._server: Any = None

    def start(self) -> str:
        """Start (or adopt a leftover) server, recreate the database empty; returns its SQLAlchemy URL."""
        os.environ["XDG_RUNTIME_DIR"] = str(runtime_dir(self.pgdata.parent))
        logging.getLogger("pgserver").setLevel(logging.WARNING)
        import pgserver  # imported late: it reads XDG_RUNTIME_DIR at import time

        self.pgdata.mkdir(parents=True, exist_ok=True)
        with pgserver.PostgresServer._lock:
            _prune_dead_handles(self.pgdata)
        self._server = pgserver.get_server(self.pgdata, cleanup_mode="stop")
        info = self._server.get_postmaster_info()
        log.info("postgres %s running (pid %s, socket %s)", self.pgdata, info.pid, info.socket_dir)
        self._recreate_database()
        return self.url(DATABASE)

    @property
    def pid(self) -> int | None:
        return self._server.get_pid() if self._server else None

    def url(self, database: str) -> str:
        socket_path = self._server.get_postmaster_info().socket_path
        return f"postgresql+pg8000://postgres@/{database}?unix_sock={socket_path}"

    def _recreate_database(self) -> None:
        """State starts fresh at every start (moto is in-memory too, so the two never contradict each other)."""
        from sqlalchemy import create_engine, text

        engine = create_engine(self.url("postgres"), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
                connection.execute(text(f'CREATE DATABASE "{DATABASE}"'))
        finally:
            engine.dispose()

    def stop(self) -> None:
        """Deregister and stop the server (pgserver stops it when the last registered process leaves)."""
        if self._server is None:
            return
        server, self._server = self._server, None
        server.cleanup()
        info = server._postmaster_info
        if info is None or info.process is None:
            return
        try:
            info.process.wait(5)  # gone once its parent (init) has reaped it
        except psutil.TimeoutExpired:
            log.warning("postgres (pid %s) still running after cleanup; terminating it", info.pid)
            info.process.terminate()
            try:
                info.process.wait(5)
            except psutil.TimeoutExpired:
                info.process.kill()
