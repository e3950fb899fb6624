"""Chaos harness for the job engine, shared by `bench/chaos.py` (N ≥ 500) and `tests/integration/test_chaos.py`.

One embedded Postgres, started by the parent process, outlives everything done to the rest:
  sigkill     the worker process is SIGKILLed mid-job, again and again, and restarted each time;
  terminate   the worker's database connections are killed with pg_terminate_backend, again and again;
  pg_restart  Postgres itself is stopped and started again on the same data folder, mid-run (fast, then immediate).

The worker is a child Python process that imports `functions.worker.handler` and calls it, like Lambda's SQS event
source, with batches of 10 stateless wake-ups while runnable jobs exist. The parent runs the sweep steps every
TICK_S, as the EventBridge tick would (faster), creates the jobs, does the damage and checks the outcome.

The job type (`chaos.effect`) records each execution in `chaos_executions(job_id, attempt)` when it starts, sleeps
5-50 ms (so kills land mid-job), then does its side effect inside `ctx.completing()`: one transaction that marks
this execution finished, bumps `chaos_effects.count` and records the job's success, so `count > 1` means the
ENGINE let a job's completed work happen twice. A trigger on `jobs` records every status
change in `chaos_transitions`, so "completed twice" is the engine moving a job into `completed` twice.

The integrator adapts the three functions at the top when the engine's registration APIs change.
"""

from __future__ import annotations

import json
import logging
import os
import random
import select
import signal
import statistics
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

ROOT = Path(__file__).resolve().parents[1]

JOB_TYPE = "chaos.effect"
TIMEOUT_S = 3  # every job's timeout_s; with CONTEXT_TIMEOUT_S this makes the lease (see lease_s())
MAX_ATTEMPTS = 20  # enough that kills never use up a job's attempts
CONTEXT_TIMEOUT_S = 60  # the LambdaContext of each invocation: lease = min(timeout_s, remaining + margin)
TICK_S = 0.5  # the sweep's period (EventBridge ticks every minute; this is the fast laptop version)
BATCH = 10  # wake-ups per SQS event, Lambda's default batch size
# The lease is the job's timeout plus this margin (settings.job_lease_margin_s, 30 s by default).
LEASE_ENV = {"CONVEYOR_JOB_LEASE_MARGIN_S": "1"}
WORKER_APP = "chaos-worker"  # application_name of the worker's connections (what `terminate` kills)
PARENT_APP = "chaos-parent"
WAKEUP_BODY = json.dumps({"job_id": None})
SCENARIOS = ("sigkill", "terminate", "pg_restart")


# --- adapters: the only places that know how steps and job types are registered ---------------------------------


def _sweep_steps() -> list[Callable[[], Any]]:
    """The scheduler steps one tick runs for the job engine, called directly (their registration is changing)."""
    from shared.jobs.sweep import queue_deferred_jobs, recover_expired_leases

    return [recover_expired_leases, queue_deferred_jobs]


class ChaosPayload(BaseModel):
    pass


def _register_job_type() -> None:
    """Offer `chaos.effect` in this process, as a composition root would."""
    from shared.jobs import registry

    spec = registry.job_type(
        JOB_TYPE,
        payload=ChaosPayload,
        max_attempts=MAX_ATTEMPTS,
        timeout_s=TIMEOUT_S,
        retry_base_ms=50,  # a job that failed on a dropped connection is retried soon, not minutes later
        retry_cap_ms=500,
    )(chaos_job)
    registry.use(spec)


def _quiet_wakeups() -> Any:
    """No SQS here: the worker polls for runnable jobs itself, so wake-ups sent after commit go nowhere."""
    from shared.jobs import wakeups

    return wakeups.set_transport(lambda _wakeups: None)


def lease_s() -> int:
    """The lease the engine gives a claimed job here (runner.lease_seconds: timeout, capped by the invocation, plus
    the margin the worker child is given in LEASE_ENV)."""
    from shared.jobs.runner import lease_seconds

    return lease_seconds(TIMEOUT_S, CONTEXT_TIMEOUT_S * 1000, int(LEASE_ENV["CONVEYOR_JOB_LEASE_MARGIN_S"]))


# --- the job type ---------------------------------------------------------------------------------------------------

_START_SQL = """
INSERT INTO chaos_executions (job_id, attempt, pid, started_at) VALUES (:job, :attempt, :pid, clock_timestamp())
ON CONFLICT (job_id, attempt) DO UPDATE SET duplicate_starts = chaos_executions.duplicate_starts + 1
"""

# Marks this execution finished and bumps the job's counter, once per (job, attempt) however often it is retried.
_EFFECT_SQL = """
WITH done AS (
  UPDATE chaos_executions SET finished_at = clock_timestamp()
  WHERE job_id = :job AND attempt = :attempt AND finished_at IS NULL
  RETURNING job_id
)
INSERT INTO chaos_effects (job_id, count) SELECT job_id, 1 FROM done
ON CONFLICT (job_id) DO UPDATE SET count = chaos_effects.count + 1
"""


def chaos_job(ctx: Any, payload: ChaosPayload) -> dict[str, int]:
    from sqlalchemy import text

    from shared.db import session

    params = {"job": ctx.job_id, "attempt": ctx.attempt, "pid": os.getpid()}
    with session() as s:
        s.execute(text(_START_SQL), params)
    time.sleep(random.uniform(0.005, 0.05))
    # The effect commits together with the job's end (the engine's exactly-once path for effects in our
    # database): a kill before the commit leaves neither, after it both. An ambiguous commit raises; the engine
    # then finds the job already completed (or retries it, if the commit did not land).
    with ctx.completing() as done:
        done.session.execute(text(_EFFECT_SQL), params)
        done.result = {"attempt": ctx.attempt}
    return {"attempt": ctx.attempt}


# --- the worker child -----------------------------------------------------------------------------------------------


def worker_main() -> None:
    """Loop like the SQS event source: a batch of 10 wake-ups whenever jobs are runnable. Never gives up."""
    ready = os.fdopen(os.dup(1), "w")
    log = open(os.environ["CHAOS_LOG"], "a", buffering=1)  # noqa: SIM115 (open for the process's lifetime)
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    parent = os.getppid()

    from sqlalchemy import text

    from functions.worker.handler import handler
    from local.events import sqs_event, sqs_message
    from local.lambda_context import LambdaContext
    from shared.db import session
    from shared.db.enums import RUNNABLE_JOB_STATUSES

    _register_job_type()
    _quiet_wakeups()
    statuses = ", ".join(f"'{s}'" for s in RUNNABLE_JOB_STATUSES)
    runnable = text(f"SELECT EXISTS (SELECT 1 FROM jobs WHERE status IN ({statuses}) AND run_at <= now())")
    ready.write(f"ready {os.getpid()}\n")
    ready.close()
    while os.getppid() == parent:
        try:
            with session() as s:
                due = s.scalar(runnable)
        except Exception as exc:
            print(f"chaos worker: cannot look for jobs: {exc!r}", flush=True)
            time.sleep(0.05)
            continue
        if not due:
            time.sleep(0.02)
            continue
        event = sqs_event([sqs_message(WAKEUP_BODY) for _ in range(BATCH)], "conveyor-chaos-jobs")
        try:
            handler(event, LambdaContext("conveyor-chaos-worker", timeout_s=CONTEXT_TIMEOUT_S))
        except Exception:
            traceback.print_exc()
            time.sleep(0.05)


# --- the parent -----------------------------------------------------------------------------------------------------


@dataclass
class ChaosConfig:
    jobs: int = 500
    chaos_s: float = 90.0  # the damage stops after this even if jobs remain
    settle_s: float = 120.0  # then: the bounded wait for the rest to complete
    kill_every_s: tuple[float, float] = (0.3, 1.0)  # sigkill / terminate: random pause between two blows
    max_kills: int | None = None
    pg_restarts: int = 2
    pg_down_s: float = 0.5
    seed: int | None = None
    log_dir: Path | None = None
    say: Callable[[str], None] = print


@dataclass
class Kill:
    kind: str
    at: float  # epoch seconds
    running: list[tuple[str, int, float | None]]  # (job id, attempt, lease expiry) of the jobs running then
    detail: dict[str, Any] = field(default_factory=dict)


SCHEMA = """
CREATE TABLE chaos_executions (
  job_id uuid NOT NULL, attempt int NOT NULL, pid int NOT NULL,
  started_at timestamptz NOT NULL, finished_at timestamptz, duplicate_starts int NOT NULL DEFAULT 0,
  PRIMARY KEY (job_id, attempt)
);
CREATE TABLE chaos_effects (job_id uuid PRIMARY KEY, count int NOT NULL);
CREATE TABLE chaos_transitions (
  id bigserial PRIMARY KEY, job_id uuid NOT NULL, old_status text NOT NULL, new_status text NOT NULL,
  attempt int NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE FUNCTION chaos_record_transition() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  INSERT INTO chaos_transitions (job_id, old_status, new_status, attempt)
  VALUES (NEW.id, OLD.status, NEW.status, NEW.attempts);
  RETURN NEW;
END
$fn$;
CREATE TRIGGER chaos_transition AFTER UPDATE OF status ON jobs FOR EACH ROW
  WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION chaos_record_transition();
"""

_MID_JOB_SQL = """
SELECT EXISTS (
  SELECT 1 FROM jobs j JOIN chaos_executions e ON e.job_id = j.id AND e.attempt = j.attempts
  WHERE j.status = 'running' AND e.finished_at IS NULL
)
"""


class Monitor:
    """The parent's own connections (autocommit, application_name chaos-parent), patient across outages."""

    def __init__(self, url: str) -> None:
        from sqlalchemy import create_engine

        self.engine = create_engine(url, isolation_level="AUTOCOMMIT", pool_size=1, connect_args={"timeout": 10})

    def rows(self, sql: str, params: dict[str, Any] | None = None, *, patience_s: float = 60.0) -> list[Any]:
        from sqlalchemy import text

        deadline = time.monotonic() + patience_s
        while True:
            try:
                with self.engine.connect() as conn:
                    result = conn.execute(text(sql), params or {})
                    return list(result) if result.returns_rows else []
            except Exception as exc:
                self.engine.dispose()
                if not _transient(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def scalar(self, sql: str, params: dict[str, Any] | None = None, **kw: Any) -> Any:
        return self.rows(sql, params, **kw)[0][0]

    def dispose(self) -> None:
        self.engine.dispose()


class Worker:
    """The worker child process; start() returns once it has imported everything and registered the job type."""

    def __init__(self, url: str, log_path: Path) -> None:
        self.url, self.log_path = url, log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, timeout_s: float = 60.0) -> None:
        env = dict(os.environ)
        for name in ("CONVEYOR_JOBS_QUEUE_URL", "AWS_ENDPOINT_URL"):
            env.pop(name, None)
        env.update(
            DATABASE_URL=self.url,
            CHAOS_LOG=str(self.log_path),
            POWERTOOLS_LOG_LEVEL="WARNING",
            **LEASE_ENV,
            AWS_DEFAULT_REGION=env.get("AWS_DEFAULT_REGION", "us-east-1"),
        )
        code = "from bench._chaos import worker_main; worker_main()"
        self.proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, stdout=subprocess.PIPE)
        self.starts += 1
        assert self.proc.stdout is not None
        readable, _, _ = select.select([self.proc.stdout], [], [], timeout_s)
        line = self.proc.stdout.readline().decode() if readable else ""
        self.proc.stdout.close()
        if not line.startswith("ready"):
            self.stop()
            raise RuntimeError(f"the chaos worker did not start; see {self.log_path}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Sweeper(threading.Thread):
    """The scheduler tick, every TICK_S: each step of _sweep_steps(), failures counted and survived."""

    def __init__(self) -> None:
        super().__init__(name="chaos-sweeper", daemon=True)
        self.steps = _sweep_steps()
        self.halt = threading.Event()
        self.ticks = 0
        self.failures = 0
        self.handled: dict[str, int] = {getattr(fn, "__name__", repr(fn)): 0 for fn in self.steps}

    def run(self) -> None:
        while not self.halt.wait(TICK_S):
            self.ticks += 1
            for fn in self.steps:
                try:
                    result = fn()
                except Exception:
                    self.failures += 1
                else:
                    if isinstance(result, int):
                        self.handled[getattr(fn, "__name__", repr(fn))] += result

    def stop(self) -> None:
        self.halt.set()
        self.join(10)


def restart_postgres(pg: Any, *, mode: str, down_s: float) -> None:
    """Stop the embedded server (`pg_ctl stop -m fast|immediate`) and start it again on the same data and socket."""
    from pgserver._commands import pg_ctl
    from pgserver.utils import PostmasterInfo

    server = pg._server  # local.postgres.EmbeddedPostgres's pgserver handle
    socket_dir = server.get_postmaster_info().socket_dir
    pg_ctl(["-w", "-m", mode, "stop"], pgdata=server.pgdata, user=server.system_user, timeout=60)
    time.sleep(down_s)
    start = ["-w", "-o", '-h ""', "-o", f"-k {socket_dir}", "-l", str(server.log), "start"]
    pg_ctl(start, pgdata=server.pgdata, user=server.system_user, timeout=60)
    # pgserver stops the server it knows at cleanup: tell it about the new postmaster.
    server._postmaster_info = PostmasterInfo.read_from_pgdata(server.pgdata)


def _transient(exc: BaseException) -> bool:
    """A dropped connection or a server shutting down or starting up (not a mistake in our SQL)."""
    from sqlalchemy.exc import DBAPIError

    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    text = f"{exc!r} {getattr(exc, 'orig', '')!r}"
    return any(mark in text for mark in ("InterfaceError", "network error", "'C': '57P", "'C': '08", "Connection"))


def _with_app(url: str, app: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}application_name={app}"


def _spread(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"n": 0, "median": None, "max": None}
    return {"n": len(values), "median": round(statistics.median(values), 3), "max": round(max(values), 3)}


class ChaosLab:
    """One embedded server (the caller's `local.postgres.EmbeddedPostgres`), a migrated template database with the
    chaos tables, and a fresh database from it for every scenario. Restores the process's settings on close."""

    def __init__(self, pg: Any, config: ChaosConfig) -> None:
        self.pg, self.config = pg, config
        self.rng = random.Random(config.seed)
        self.log_dir = config.log_dir or Path(pg.pgdata).parent / "chaos-logs"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._saved_env = {k: os.environ.get(k) for k in ("DATABASE_URL",)}
        self._saved_transport: Any = None
        self._pool_log = logging.getLogger("sqlalchemy.pool")
        self._pool_level = self._pool_log.level

    # setup -----------------------------------------------------------------------------------------------------------

    def __enter__(self) -> ChaosLab:
        # Connections dropped under the pool are the point here; SQLAlchemy would log a traceback for each.
        self._pool_log.setLevel(logging.CRITICAL)
        admin = Monitor(self.pg.url("postgres"))
        try:
            admin.rows("ALTER SYSTEM SET fsync = off")  # a process or server crash loses nothing; only an OS crash
            admin.rows("SELECT pg_reload_conf()")
            admin.rows("DROP DATABASE IF EXISTS chaos_template WITH (FORCE)")
            admin.rows("CREATE DATABASE chaos_template")
        finally:
            admin.dispose()
        self._use_database("chaos_template")
        from shared.db import get_engine
        from shared.db.migrate import upgrade

        upgrade()
        with get_engine().begin() as conn:
            conn.exec_driver_sql(SCHEMA)
        self._use_database(None)
        _register_job_type()
        self._saved_transport = _quiet_wakeups()
        return self

    def __exit__(self, *exc: object) -> None:
        from shared.config import reset_settings
        from shared.db import dispose_engine
        from shared.jobs import wakeups

        dispose_engine()
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        reset_settings()
        if self._saved_transport is not None:
            wakeups.set_transport(self._saved_transport)
        self._pool_log.setLevel(self._pool_level)

    def _use_database(self, name: str | None) -> None:
        """Point this process's shared engine (create_job, the sweep steps) at `name`, or nowhere."""
        from shared.config import reset_settings
        from shared.db import dispose_engine

        dispose_engine()
        if name is not None:
            os.environ["DATABASE_URL"] = _with_app(self.pg.url(name), PARENT_APP)
        reset_settings()

    # a scenario ------------------------------------------------------------------------------------------------------

    def run(self, scenario: str) -> dict[str, Any]:
        if scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {scenario!r}; one of {SCENARIOS}")
        cfg = self.config
        database = f"chaos_{scenario}"
        admin = Monitor(self.pg.url("postgres"))
        try:
            admin.rows(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            admin.rows(f'CREATE DATABASE "{database}" TEMPLATE chaos_template')
        finally:
            admin.dispose()
        self._use_database(database)
        from shared.jobs import service

        for _ in range(cfg.jobs):
            service.create_job(user_id=None, type=JOB_TYPE, payload={}, timeout_s=TIMEOUT_S, max_attempts=MAX_ATTEMPTS)
        db = Monitor(_with_app(self.pg.url(database), PARENT_APP))
        worker = Worker(_with_app(self.pg.url(database), WORKER_APP), self.log_dir / f"worker-{scenario}.log")
        sweeper = Sweeper()
        kills: list[Kill] = []
        started = time.monotonic()
        try:
            worker.start()
            sweeper.start()
            chaos_until = time.monotonic() + cfg.chaos_s
            getattr(self, f"_chaos_{scenario}")(db, worker, kills, chaos_until)
            chaos_s = time.monotonic() - started
            settle_until = time.monotonic() + cfg.settle_s
            while time.monotonic() < settle_until and self._completed(db) < cfg.jobs:
                if not worker.alive():
                    worker.start()
                time.sleep(0.1)
        finally:
            worker.stop()
            sweeper.stop()
        wall_s = time.monotonic() - started
        result = self._results(db, kills)
        db.dispose()
        self._use_database(None)
        result.update(
            wall_s=round(wall_s, 1),
            chaos_s=round(chaos_s, 1),
            worker_starts=worker.starts,
            sweep_ticks=sweeper.ticks,
            sweep_failures=sweeper.failures,
            sweep_handled=sweeper.handled,
            log=str(worker.log_path),
        )
        cfg.say(self._line(scenario, result))
        return result

    def _completed(self, db: Monitor) -> int:
        return int(db.scalar("SELECT count(*) FROM jobs WHERE status = 'completed'"))

    def _chaos_on(self, db: Monitor, kills: list[Kill], until: float) -> bool:
        cfg = self.config
        if time.monotonic() >= until or (cfg.max_kills is not None and len(kills) >= cfg.max_kills):
            return False
        return self._completed(db) < cfg.jobs

    def _wait_mid_job(self, db: Monitor, timeout_s: float = 1.0) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if db.scalar(_MID_JOB_SQL):
                return True
            time.sleep(0.01)
        return False

    def _running(self, db: Monitor) -> list[tuple[str, int, float | None]]:
        sql = "SELECT id, attempts, extract(epoch FROM lease_expires_at) FROM jobs WHERE status = 'running'"
        return [(str(j), int(a), None if e is None else float(e)) for j, a, e in db.rows(sql)]

    def _pause(self) -> None:
        time.sleep(self.rng.uniform(*self.config.kill_every_s))

    def _chaos_sigkill(self, db: Monitor, worker: Worker, kills: list[Kill], until: float) -> None:
        while self._chaos_on(db, kills, until):
            self._pause()  # counted from the moment the (re)started worker was ready
            self._wait_mid_job(db)
            worker.kill()
            at = time.time()
            kills.append(Kill("sigkill", at, self._running(db)))  # the dead worker's: nobody else runs jobs
            worker.start()

    def _chaos_terminate(self, db: Monitor, worker: Worker, kills: list[Kill], until: float) -> None:
        sql = (
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE application_name = :app AND datname = current_database()"
        )
        while self._chaos_on(db, kills, until):
            self._pause()
            at = time.time()
            terminated = int(db.scalar(sql, {"app": WORKER_APP}))
            kills.append(Kill("terminate", at, self._running(db), {"connections": terminated}))
            if not worker.alive():  # the worker must survive a dropped connection; note it if not
                kills[-1].detail["worker_died"] = True
                worker.start()

    def _chaos_pg_restart(self, db: Monitor, worker: Worker, kills: list[Kill], until: float) -> None:
        cfg = self.config
        for n in range(cfg.pg_restarts):
            threshold = cfg.jobs * (n + 1) / (cfg.pg_restarts + 1)
            while self._chaos_on(db, kills, until) and self._completed(db) < threshold:
                time.sleep(0.02)
            if not self._chaos_on(db, kills, until):
                return
            self._wait_mid_job(db)
            running = self._running(db)  # just before the stop: nobody can ask during it
            mode = "fast" if n % 2 == 0 else "immediate"
            at = time.time()
            db.dispose()
            restart_postgres(self.pg, mode=mode, down_s=cfg.pg_down_s)
            kills.append(Kill("pg_restart", at, running, {"mode": mode, "down_s": round(time.time() - at, 2)}))
            if not worker.alive():
                kills[-1].detail["worker_died"] = True
                worker.start()

    # results ---------------------------------------------------------------------------------------------------------

    def _results(self, db: Monitor, kills: list[Kill]) -> dict[str, Any]:
        cfg = self.config
        statuses = {str(s): int(n) for s, n in db.rows("SELECT status, count(*) FROM jobs GROUP BY status")}
        completed = statuses.get("completed", 0)
        executions = [
            (str(j), int(a), float(s), None if f is None else float(f), int(d))
            for j, a, s, f, d in db.rows(
                "SELECT CAST(job_id AS text), attempt, extract(epoch FROM started_at),"
                " extract(epoch FROM finished_at), duplicate_starts FROM chaos_executions"
            )
        ]
        transitions = [
            (str(j), str(old), str(new), int(a), float(at))
            for j, old, new, a, at in db.rows(
                "SELECT CAST(job_id AS text), old_status, new_status, attempt, extract(epoch FROM at)"
                " FROM chaos_transitions ORDER BY id"
            )
        ]
        effects = {str(j): int(c) for j, c in db.rows("SELECT CAST(job_id AS text), count FROM chaos_effects")}
        completed_ids = {str(r[0]) for r in db.rows("SELECT CAST(id AS text) FROM jobs WHERE status = 'completed'")}
        completions = [(j, a, at) for j, _, new, a, at in transitions if new == "completed"]
        finished = {(j, a) for j, a, _, f, _ in executions if f is not None}
        per_job: dict[str, int] = {}
        for job_id, _, _ in completions:
            per_job[job_id] = per_job.get(job_id, 0) + 1

        # Overlap: a later attempt started before an earlier one had finished (two runs of a job at once).
        by_job: dict[str, list[tuple[int, float, float | None]]] = {}
        for j, a, s, f, _ in executions:
            by_job.setdefault(j, []).append((a, s, f))
        overlapping = 0
        for runs in by_job.values():
            runs.sort()
            if any(f1 is not None and s2 < f1 for i, (_, _, f1) in enumerate(runs) for (_, s2, _) in runs[i + 1 :]):
                overlapping += 1

        # After each blow, per job that was running: when it ran again or completed (`recover`, the first such job
        # per blow), and when the engine let go of it: out of `running`, by the sweep or its worker (`release`, the
        # last such job per blow; the lease bounds this one: lease + one tick, + the outage for a restart).
        again: dict[str, list[float]] = {}
        for j, _, s, _, _ in executions:
            again.setdefault(j, []).append(s)
        for j, _, at in completions:
            again.setdefault(j, []).append(at)
        released: dict[tuple[str, int], float] = {}  # the end of each (job, attempt)'s time in `running`
        for j, old, _, a, at in transitions:
            if old == "running":
                released.setdefault((j, a), at)
        recover, release, unrecovered = [], [], 0
        # The lease the engine really gave: lease_expires_at minus the claim (the move into `running`).
        claimed = {(j, a): at for j, _, new, a, at in transitions if new == "running"}
        leases = [
            expiry - claimed[(j, a)]
            for k in kills
            for j, a, expiry in k.running
            if expiry is not None and (j, a) in claimed
        ]
        for kill in kills:
            if not kill.running:
                continue
            firsts = [_first_after(again.get(j, []), kill.at) for j, _, _ in kill.running]
            known = [t for t in firsts if t is not None]
            if known:
                recover.append(min(known))
            else:
                unrecovered += 1
            # By attempt, not "the first change after the blow": the sweep may have let go of one in the instant
            # between the blow and the snapshot (its change stamped before, committed after).
            lets_go = [released.get((j, a)) for j, a, _ in kill.running]
            if all(t is not None for t in lets_go):
                release.append(max(0.0, *(t - kill.at for t in lets_go if t is not None)))
                kill.detail["released_s"] = round(release[-1], 3)
        # Bounded by the lease the engine really gave (if it differs from lease_s(), that is a finding too).
        lease = max([*leases, float(lease_s())])
        over_bound = sum(
            1
            for k in kills
            if "released_s" in k.detail and k.detail["released_s"] > lease + TICK_S + float(k.detail.get("down_s", 0))
        )

        twice = sorted(j for j, c in effects.items() if c > 1)
        return {
            "jobs": cfg.jobs,
            "completed": completed,
            "lost": cfg.jobs - completed,
            "statuses": statuses,
            "completed_twice": sum(1 for n in per_job.values() if n > 1),
            "completed_unfinished": sum(1 for j, a, _ in completions if (j, a) not in finished),
            "side_effects_twice": len(twice),
            "side_effects_max": max(effects.values(), default=0),
            "completed_without_effect": sum(1 for j in completed_ids if effects.get(j, 0) == 0),
            "executions": len(executions),
            "executions_unfinished": len(executions) - len(finished),
            "duplicate_starts": sum(d for *_, d in executions),
            "overlapping_runs": overlapping,
            "kills": len(kills),
            "kills_mid_job": sum(1 for k in kills if k.running),
            "kills_unrecovered": unrecovered,
            "connections_terminated": sum(int(k.detail.get("connections", 0)) for k in kills),
            "time_to_recover_s": _spread(recover),
            "time_to_release_s": _spread(release),
            "releases_over_bound": over_bound,
            "lease_s": lease_s(),
            "lease_observed_s": _spread(leases),
            "tick_s": TICK_S,
            "bound_s": round(lease + TICK_S, 3),
            "restarts": [k.detail for k in kills if k.kind == "pg_restart"],
            "worker_deaths": sum(1 for k in kills if k.detail.get("worker_died")),
            "side_effects_twice_examples": [self._story(j, by_job, transitions) for j in twice[:3]],
        }

    @staticmethod
    def _story(job_id: str, by_job: dict[str, list[tuple[int, float, float | None]]], transitions: list[Any]) -> str:
        """One job's runs (attempt start→finish, seconds from its first start) and its status changes."""
        runs = by_job.get(job_id, [])
        t0 = min((s for _, s, _ in runs), default=0.0)
        parts = [f"#{a} {s - t0:.2f}→{'cut' if f is None else f'{f - t0:.2f}'}" for a, s, f in runs]
        moves = [f"{new}#{a}@{at - t0:.2f}" for j, _, new, a, at in transitions if j == job_id]
        return f"{job_id[:8]}: runs {', '.join(parts)}; status {' '.join(moves)}"

    @staticmethod
    def _line(scenario: str, r: dict[str, Any]) -> str:
        rec, rel = r["time_to_recover_s"], r["time_to_release_s"]
        return (
            f"{scenario}: {r['completed']}/{r['jobs']} completed, {r['lost']} lost, {r['completed_twice']} completed"
            f" twice, {r['side_effects_twice']} side effects twice (max {r['side_effects_max']}),"
            f" {r['executions']} executions ({r['executions_unfinished']} cut short, {r['overlapping_runs']}"
            f" overlapping); {r['kills']} blows ({r['kills_mid_job']} mid-job): first running job again after"
            f" median {rec['median']} s / max {rec['max']} s ({r['kills_unrecovered']} never); all let go after"
            f" median {rel['median']} s / max {rel['max']} s, {r['releases_over_bound']} over lease + tick"
            f" {r['bound_s']} s (lease {r['lease_observed_s']['max'] or r['lease_s']} s); {r['wall_s']} s"
        )


def _first_after(times: list[float], at: float) -> float | None:
    later = [t - at for t in times if t >= at]
    return min(later) if later else None
