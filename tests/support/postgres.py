"""A real Postgres for the test session: `DATABASE_URL` if set, else an embedded one (pgserver)."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import create_engine, make_url, text
from sqlalchemy.engine import URL

ROOT = Path(__file__).resolve().parents[2]


def server_url() -> URL:
    """A URL to a database we may create other databases from."""
    if os.environ.get("DATABASE_URL"):
        url = make_url(os.environ["DATABASE_URL"])
        return url.set(drivername="postgresql+pg8000")
    state = ROOT / ".local"
    runtime = state / "run"
    runtime.mkdir(parents=True, exist_ok=True)
    runtime.chmod(0o700)  # platformdirs ignores (and warns about) a runtime dir others can read
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))
    import pgserver  # after XDG_RUNTIME_DIR is set: it reads it at import

    datadir = state / "test-pg"
    server = pgserver.get_server(datadir, cleanup_mode="stop")
    socket_dir = server.get_postmaster_info().socket_dir
    url = make_url(f"postgresql+pg8000://postgres@/postgres?unix_sock={socket_dir}/.s.PGSQL.5432")
    _no_durability(url)
    return url


def _no_durability(url: URL) -> None:
    """A throwaway test server need not survive a power cut: skip fsync (only ever on the embedded one)."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        for setting in ("fsync", "synchronous_commit", "full_page_writes"):
            conn.execute(text(f"ALTER SYSTEM SET {setting} = off"))
        conn.execute(text("SELECT pg_reload_conf()"))
    engine.dispose()


def recreate_database(admin_url: URL, name: str) -> URL:
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return admin_url.set(database=name)


def drop_database(admin_url: URL, name: str) -> None:
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()
