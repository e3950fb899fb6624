"""Job engine throughput against pgqueuer and procrastinate, on one embedded Postgres, in one run.

Each engine has its own database on the same server; every database is ANALYZEd before its drain.
(a)  creation one at a time: Conveyor's `create_job` through the service layer, as the API calls it (row, then a
     wake-up after commit to an in-memory transport standing in for SQS) vs pgqueuer's `Queries.enqueue`, one job
     per call;
(a') bulk creation: Conveyor's `create_jobs` (up to 1,000 requests per call, one transaction; see `_bulk_create`)
     vs pgqueuer's batched `enqueue` (lists of 1,000 entrypoints/payloads/priorities per call);
(b)  the worker: `functions.worker.handler.handler` fed the (a') jobs' wake-ups as real SQS events in batches of 10
     (sequential invocations, as one Lambda environment runs them) vs pgqueuer's QueueManager (asyncpg, one
     connection, batch size 10, uvloop as its CLI runs it) vs procrastinate 3.10 (one worker, concurrency 10).
Round trips per job in (b) are flushes of the pg8000 socket (each one is a request the client then waits on);
SQL statements and transactions are counted too. The CPU time of the drain gives an AWS cost per million jobs at
the list prices below. Rounds alternate which engine goes first; figures are medians.
Last line: {"bench": "jobs", "worker_jobs_per_s", "procrastinate_jobs_per_s", "ratio", "create_jobs_per_s",
"round_trips_per_job", "pgqueuer_jobs_per_s", "ratio_pgqueuer", "pgqueuer_enqueue_one_per_s",
"pgqueuer_enqueue_batch_per_s", "bulk_create_jobs_per_s", "usd_per_million_jobs"}.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _support import embedded_postgres

# AWS list prices, us-east-1, 2026 (on-demand, no free tier): what the cost estimate multiplies.
LAMBDA_USD_PER_MILLION_REQUESTS = 0.20
LAMBDA_ARM64_USD_PER_GB_S = 0.0000133334
LAMBDA_MEMORY_MB = 512
SQS_USD_PER_MILLION_REQUESTS = 0.40  # standard queue, per API request (a batch of up to 10 is one request)

JOBS = int(os.environ.get("BENCH_JOBS", "3000"))
CREATE = int(os.environ.get("BENCH_CREATE", "2000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
BATCH = 10  # SQS batch size of the worker's event source mapping, and pgqueuer's dequeue batch
BULK = 1000  # jobs per bulk-creation call, both engines
NOOP = "bench.noop"


def _register_noop() -> None:
    """Define the bench's no-op job type and make it known to the service layer and the worker."""
    from pydantic import BaseModel

    from shared.jobs import registry

    class Nothing(BaseModel):
        pass

    @registry.job_type(NOOP, payload=Nothing)
    def noop(ctx: object, payload: Nothing) -> None:
        return None

    registry.use(noop)


def _bulk_create(n: int) -> None:
    """Create n no-op jobs through Conveyor's bulk path, up to BULK per call (one transaction each)."""
    from shared.jobs.admission import JobRequest
    from shared.jobs.service import create_jobs

    for start in range(0, n, BULK):
        create_jobs(user_id=None, requests=[JobRequest(type=NOOP, payload={}) for _ in range(min(BULK, n - start))])


def usd_per_million(billed_ms_per_batch: float) -> dict[str, float]:
    """What a million no-op jobs cost in AWS requests and Lambda time, one invocation per SQS batch of 10."""
    batches = 1_000_000 / BATCH
    gb_s = batches * billed_ms_per_batch / 1000 * LAMBDA_MEMORY_MB / 1024
    costs = {
        "lambda_requests": batches * LAMBDA_USD_PER_MILLION_REQUESTS / 1e6,
        "lambda_duration": gb_s * LAMBDA_ARM64_USD_PER_GB_S,
        "sqs_send": batches * SQS_USD_PER_MILLION_REQUESTS / 1e6,  # SendMessageBatch of 10 wake-ups
        "sqs_receive": batches * SQS_USD_PER_MILLION_REQUESTS / 1e6,  # Lambda's poller, ~1 ReceiveMessage/batch
        "sqs_delete": batches * SQS_USD_PER_MILLION_REQUESTS / 1e6,  # DeleteMessageBatch after success
    }
    costs["total"] = sum(costs.values())
    return costs


def main() -> None:
    with embedded_postgres("conveyor-bench-jobs-") as (pg, url):
        run(pg, url)


def run(pg: Any, url: str) -> None:
    os.environ.update(DATABASE_URL=url, POWERTOOLS_LOG_LEVEL="ERROR", AWS_DEFAULT_REGION="us-east-1")
    for name in ("procrastinate", "pgqueuer"):
        logging.getLogger(name).setLevel(logging.ERROR)
    import asyncpg
    import pgqueuer
    import procrastinate
    import uvloop
    from pgqueuer.db import AsyncpgDriver
    from sqlalchemy import create_engine, event, text

    from functions.worker.handler import handler
    from local.events import sqs_event, sqs_message
    from local.lambda_context import LambdaContext
    from shared.db import get_engine, session
    from shared.db.migrate import upgrade
    from shared.jobs import service, wakeups

    _register_noop()
    upgrade()
    sent: list[wakeups.Wakeup] = []
    wakeups.set_transport(sent.extend)

    # Conveyor's engine: network round trips (flushes of each pg8000 connection's socket), statements, transactions.
    counts = {"flushes": 0, "statements": 0, "transactions": 0}

    def bump(key: str) -> Callable[..., None]:
        return lambda *_: counts.__setitem__(key, counts[key] + 1)

    def count_flushes(dbapi_connection: Any, _record: Any) -> None:
        sock = dbapi_connection._sock  # pg8000's buffered socket: one flush per request sent to the server
        flush = sock.flush

        def counted() -> None:
            counts["flushes"] += 1
            flush()

        sock.flush = counted

    engine = get_engine()
    event.listen(engine, "connect", count_flushes)
    event.listen(engine, "before_cursor_execute", bump("statements"))
    event.listen(engine, "begin", bump("transactions"))
    engine.dispose()  # connections made before the listener (migrations) are replaced by counted ones

    socket_dir = str(Path(pg.url("x").split("unix_sock=")[1]).parent)
    admin = create_engine(pg.url("postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for db in ("procrastinate", "pgqueuer"):
            conn.execute(text(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
            conn.execute(text(f"CREATE DATABASE {db}"))
    admin.dispose()
    maintenance = {db: create_engine(pg.url(db), isolation_level="AUTOCOMMIT") for db in ("conveyor", "procrastinate")}

    def analyze(db: str) -> None:
        with maintenance[db].connect() as conn:
            conn.execute(text("ANALYZE"))

    def proc_app() -> procrastinate.App:
        conninfo = f"host={socket_dir} dbname=procrastinate user=postgres"
        return procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo))

    schema_app = proc_app()
    with schema_app.open():
        schema_app.schema_manager.apply_schema()

    async def pgq_connect() -> asyncpg.Connection:
        return await asyncpg.connect(host=socket_dir, user="postgres", database="pgqueuer")

    def pgq(coro_fn: Callable[..., Any], *args: Any) -> Any:
        """Run one pgqueuer step on uvloop (what `pgq run` uses) with a connection of its own."""

        async def step() -> Any:
            conn = await pgq_connect()
            try:
                return await coro_fn(conn, *args)
            finally:
                await conn.close()

        return uvloop.run(step())

    async def pgq_install(conn: asyncpg.Connection) -> None:
        await pgqueuer.Queries(AsyncpgDriver(conn)).install()

    pgq(pgq_install)

    # --- (a) one at a time -------------------------------------------------------------------------------------
    def conveyor_create_one() -> float:
        started = time.perf_counter()
        for _ in range(CREATE):
            service.create_job(user_id=None, type=NOOP, payload={})
        rate = CREATE / (time.perf_counter() - started)
        conveyor_reset()
        return rate

    async def pgq_enqueue_one(conn: asyncpg.Connection) -> float:
        queries = pgqueuer.Queries(AsyncpgDriver(conn))
        started = time.perf_counter()
        for _ in range(CREATE):
            await queries.enqueue(NOOP, None, 0)
        rate = CREATE / (time.perf_counter() - started)
        await pgq_reset(conn)
        return rate

    # --- (a') bulk, leaving JOBS jobs for (b) --------------------------------------------------------------------
    def conveyor_create_bulk() -> float:
        started = time.perf_counter()
        _bulk_create(JOBS)
        return JOBS / (time.perf_counter() - started)

    async def pgq_enqueue_batch(conn: asyncpg.Connection) -> float:
        queries = pgqueuer.Queries(AsyncpgDriver(conn))
        started = time.perf_counter()
        for start in range(0, JOBS, BULK):
            n = min(BULK, JOBS - start)
            await queries.enqueue([NOOP] * n, [None] * n, [0] * n)
        return JOBS / (time.perf_counter() - started)

    # --- (b) drains ----------------------------------------------------------------------------------------------
    def conveyor_drain() -> dict[str, float]:
        bodies = [w.body() for w in sent]
        sent.clear()
        if len(bodies) != JOBS:
            print(f"note: {len(bodies)} wake-ups sent for {JOBS} jobs; the drain uses exactly {JOBS}")
            bodies = (bodies + [wakeups.Wakeup(None).body()] * JOBS)[:JOBS]
        events = [
            sqs_event([sqs_message(b) for b in bodies[i : i + BATCH]], "conveyor-jobs") for i in range(0, JOBS, BATCH)
        ]
        analyze("conveyor")
        context = LambdaContext("conveyor-worker", timeout_s=900)
        before = dict(counts)
        batch_s: list[float] = []
        # The worker prints its EMF metrics (a JSON line per batch) to stdout, as Lambda needs: discarded here.
        with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
            cpu_started, started = time.process_time(), time.perf_counter()
            for ev in events:
                t0 = time.perf_counter()
                response = handler(ev, context)
                batch_s.append(time.perf_counter() - t0)
                assert not response["batchItemFailures"], response
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        with session() as s:
            left = s.execute(text("SELECT count(*) FROM jobs WHERE status <> 'completed'")).scalar_one()
        assert left == 0, f"{left} jobs not completed after the drain"
        conveyor_reset()
        return {
            "rate": JOBS / elapsed,
            "trips": (counts["flushes"] - before["flushes"]) / JOBS,
            "statements": (counts["statements"] - before["statements"]) / JOBS,
            "transactions": (counts["transactions"] - before["transactions"]) / JOBS,
            "cpu_ms_per_batch": cpu * 1000 / len(events),
            "wall_ms_per_batch": elapsed * 1000 / len(events),
            "billed_ms_per_batch": statistics.fmean(math.ceil(b * 1000) for b in batch_s),
        }

    async def pgq_drain(conn: asyncpg.Connection) -> float:
        await conn.execute("ANALYZE")
        worker_conn = await pgq_connect()
        qm = pgqueuer.QueueManager(pgqueuer.Queries(AsyncpgDriver(worker_conn)))
        done = 0

        @qm.entrypoint(NOOP)
        async def noop(job: pgqueuer.Job) -> None:
            nonlocal done
            done += 1
            if done == JOBS:
                qm.shutdown.set()  # run() returns once in-flight jobs finish and the status log is flushed

        try:
            started = time.perf_counter()
            await qm.run(batch_size=BATCH)
            rate = JOBS / (time.perf_counter() - started)
        finally:
            await worker_conn.close()
        left = await conn.fetchval("SELECT count(*) FROM pgqueuer")
        succeeded = await conn.fetchval("SELECT count(*) FROM pgqueuer_log WHERE status = 'successful'")
        assert done == JOBS, done
        assert left == 0, left
        assert succeeded == JOBS, succeeded
        await pgq_reset(conn)
        return rate

    def procrastinate_drain() -> float:
        app = proc_app()

        @app.task(queue="bench")
        def nothing() -> None:
            return None

        with app.open():
            nothing.batch_defer(*({} for _ in range(JOBS)))
            analyze("procrastinate")
            started = time.perf_counter()
            app.run_worker(queues=["bench"], concurrency=10, wait=False, install_signal_handlers=False)
            rate = JOBS / (time.perf_counter() - started)
        with maintenance["procrastinate"].connect() as conn:
            succeeded = conn.execute(text("SELECT count(*) FROM procrastinate_jobs WHERE status = 'succeeded'"))
            assert succeeded.scalar_one() == JOBS
            conn.execute(text("TRUNCATE procrastinate_jobs CASCADE"))
        return rate

    def conveyor_reset() -> None:
        sent.clear()
        with session() as s:
            s.execute(text("DELETE FROM jobs"))

    async def pgq_reset(conn: asyncpg.Connection) -> None:
        await conn.execute("TRUNCATE pgqueuer, pgqueuer_log, pgqueuer_statistics")

    results: dict[str, list[Any]] = {}

    def record(key: str, fn: Callable[[], Any]) -> None:
        results.setdefault(key, []).append(fn())

    bench_started = time.perf_counter()
    for round_no in range(ROUNDS):
        steps: list[list[tuple[str, Callable[[], Any]]]] = [
            [("create", conveyor_create_one), ("pgq_one", lambda: pgq(pgq_enqueue_one))],
            [("bulk", conveyor_create_bulk), ("pgq_batch", lambda: pgq(pgq_enqueue_batch))],
            [("worker", conveyor_drain), ("pgq", lambda: pgq(pgq_drain)), ("proc", procrastinate_drain)],
        ]
        for pair in steps:
            for key, fn in reversed(pair) if round_no % 2 else pair:  # odd rounds: the peers first
                record(key, fn)
        w = results["worker"][-1]
        print(
            f"round {round_no + 1}: (a) create {results['create'][-1]:.0f}/s vs pgqueuer"
            f" {results['pgq_one'][-1]:.0f}/s;"
            f" (a') bulk {results['bulk'][-1]:.0f}/s vs pgqueuer {results['pgq_batch'][-1]:.0f}/s;"
            f" (b) worker {w['rate']:.0f} jobs/s ({w['trips']:.2f} round trips/job, {w['cpu_ms_per_batch']:.1f} ms"
            f" CPU/batch) vs pgqueuer {results['pgq'][-1]:.0f} vs procrastinate {results['proc'][-1]:.0f} jobs/s",
            flush=True,
        )

    def med(key: str, field: str | None = None) -> float:
        return statistics.median(r[field] if field else r for r in results[key])

    worker, pgq_rate, proc = med("worker", "rate"), med("pgq"), med("proc")
    created, bulk, pgq_one, pgq_batch = med("create"), med("bulk"), med("pgq_one"), med("pgq_batch")
    trips, statements, transactions = med("worker", "trips"), med("worker", "statements"), med("worker", "transactions")
    cpu_ms, wall_ms, billed_ms = (
        med("worker", f) for f in ("cpu_ms_per_batch", "wall_ms_per_batch", "billed_ms_per_batch")
    )
    costs = usd_per_million(billed_ms)

    print(
        f"medians of {ROUNDS} rounds, {JOBS} jobs drained and {CREATE} created one at a time per engine per round"
        f" ({time.perf_counter() - bench_started:.0f} s):"
    )
    print(
        f"(a)  creation one at a time: Conveyor create_job {created:.0f} jobs/s; pgqueuer enqueue {pgq_one:.0f} jobs/s"
        f" (Conveyor / pgqueuer {created / pgq_one:.2f})"
    )
    print(
        f"(a') bulk creation, {BULK} per call: Conveyor {bulk:.0f} jobs/s; pgqueuer {pgq_batch:.0f} jobs/s"
        f" (Conveyor / pgqueuer {bulk / pgq_batch:.2f})"
    )
    print(
        f"(b)  Conveyor worker, SQS batches of {BATCH}: {worker:.0f} jobs/s; {trips:.2f} round trips/job"
        f" (socket flushes); {statements:.2f} statements and {transactions:.2f} transactions/job"
    )
    print(
        f"     per batch: {wall_ms:.1f} ms wall (billed {billed_ms:.1f} ms, rounded up per invocation),"
        f" {cpu_ms:.1f} ms CPU in this process ({cpu_ms / wall_ms:.0%} of wall; the rest waits on Postgres)"
    )
    print(f"     pgqueuer 1.6 QueueManager, asyncpg, one connection, batch {BATCH}: {pgq_rate:.0f} jobs/s")
    print(f"     procrastinate 3.10, one worker, concurrency 10: {proc:.0f} jobs/s")
    print(
        f"ratio_pgqueuer (worker / pgqueuer): {worker / pgq_rate:.2f}; ratio (worker / procrastinate):"
        f" {worker / proc:.2f} (goal >= 5)"
    )
    batches = f"{1_000_000 // BATCH:,}"
    print(f"AWS cost per million no-op jobs (list prices, us-east-1; Lambda arm64 {LAMBDA_MEMORY_MB} MB, x86 timing):")
    for key, label, unit in (
        ("lambda_requests", "Lambda requests", f"${LAMBDA_USD_PER_MILLION_REQUESTS}/M"),
        (
            "lambda_duration",
            "Lambda duration",
            f"{billed_ms:.1f} ms x {LAMBDA_MEMORY_MB / 1024:g} GB x ${LAMBDA_ARM64_USD_PER_GB_S}/GB-s",
        ),
        ("sqs_send", "SQS SendMessageBatch", f"${SQS_USD_PER_MILLION_REQUESTS}/M"),
        ("sqs_receive", "SQS ReceiveMessage", f"${SQS_USD_PER_MILLION_REQUESTS}/M"),
        ("sqs_delete", "SQS DeleteMessageBatch", f"${SQS_USD_PER_MILLION_REQUESTS}/M"),
    ):
        print(f"     {label:<22} {batches} x {unit} = ${costs[key]:.4f}")
    print(f"     total ${costs['total']:.4f} per million jobs (Postgres/RDS not included)")

    for e in maintenance.values():
        e.dispose()
    summary: dict[str, Any] = {
        "bench": "jobs",
        "worker_jobs_per_s": round(worker),
        "procrastinate_jobs_per_s": round(proc),
        "ratio": round(worker / proc, 2),
        "create_jobs_per_s": round(created),
        "round_trips_per_job": round(trips, 2),
        "pgqueuer_jobs_per_s": round(pgq_rate),
        "ratio_pgqueuer": round(worker / pgq_rate, 2),
        "pgqueuer_enqueue_one_per_s": round(pgq_one),
        "pgqueuer_enqueue_batch_per_s": round(pgq_batch),
        "bulk_create_jobs_per_s": round(bulk),
        "usd_per_million_jobs": round(costs["total"], 4),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
