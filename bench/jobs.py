"""Job engine throughput against procrastinate, on one embedded Postgres, in one run.

(a) creation: jobs created one at a time through the service layer, as the API does (row + wake-up after commit);
(b) worker: no-op jobs fed to functions/worker as SQS-shaped batches of 10 wake-ups (an in-memory transport stands
    in for SQS so moto's own cost is not counted; the messages and events are the real shapes);
(c) procrastinate 3.10: the same number of no-op tasks, one worker at concurrency 10, same Postgres server.
Also counted: database round trips per job in (b) (statements + BEGIN + COMMIT, from SQLAlchemy's events).
Last line: {"bench": "jobs", "worker_jobs_per_s", "procrastinate_jobs_per_s", "ratio", "create_jobs_per_s",
"round_trips_per_job"}.
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _support import embedded_postgres

JOBS = int(os.environ.get("BENCH_JOBS", "3000"))
CREATE = int(os.environ.get("BENCH_CREATE", "2000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))


def main() -> None:
    with embedded_postgres("conveyor-bench-jobs-") as (pg, url):
        run(pg, url)


def run(pg: Any, url: str) -> None:
    os.environ.update(DATABASE_URL=url, POWERTOOLS_LOG_LEVEL="ERROR", AWS_DEFAULT_REGION="us-east-1")
    logging.getLogger("procrastinate").setLevel(logging.ERROR)
    from pydantic import BaseModel
    from sqlalchemy import event, text

    from functions.worker.handler import handler
    from local.events import sqs_event, sqs_message
    from local.lambda_context import LambdaContext
    from shared.db import get_engine, session
    from shared.db.migrate import upgrade
    from shared.jobs import service, wakeups
    from shared.jobs.registry import job_type

    class Nothing(BaseModel):
        pass

    @job_type("bench.noop", payload=Nothing)
    def noop(ctx: object, payload: Nothing) -> None:
        return None

    upgrade()
    sent: list[wakeups.Wakeup] = []
    wakeups.set_transport(sent.extend)

    counts = {"statements": 0, "transactions": 0}
    engine = get_engine()
    event.listen(engine, "before_cursor_execute", lambda *a: counts.__setitem__("statements", counts["statements"] + 1))
    event.listen(engine, "begin", lambda *a: counts.__setitem__("transactions", counts["transactions"] + 1))

    def create(n: int) -> float:
        started = time.perf_counter()
        for _ in range(n):
            service.create_job(user_id=None, type="bench.noop", payload={})
        return n / (time.perf_counter() - started)

    def work() -> tuple[float, float]:
        messages = [sqs_message(w.body()) for w in sent]
        sent.clear()
        context = LambdaContext("bench-worker", timeout_s=900)
        before = dict(counts)
        started = time.perf_counter()
        for i in range(0, len(messages), 10):
            response = handler(sqs_event(messages[i : i + 10], "conveyor-bench-jobs"), context)
            assert not response["batchItemFailures"]
        elapsed = time.perf_counter() - started
        trips = (counts["statements"] - before["statements"]) + 2 * (counts["transactions"] - before["transactions"])
        return len(messages) / elapsed, trips / len(messages)

    def procrastinate_run(n: int) -> float:
        import procrastinate

        from local.postgres import EmbeddedPostgres

        assert isinstance(pg, EmbeddedPostgres)
        socket_dir = str(Path(pg.url("x").split("unix_sock=")[1]).parent)
        app = procrastinate.App(
            connector=procrastinate.PsycopgConnector(conninfo=f"host={socket_dir} dbname=procrastinate user=postgres")
        )

        @app.task(queue="bench")
        def nothing() -> None:
            return None

        with app.open():
            nothing.batch_defer(*({} for _ in range(n)))
            started = time.perf_counter()
            app.run_worker(queues=["bench"], concurrency=10, wait=False, install_signal_handlers=False)
            return n / (time.perf_counter() - started)

    from sqlalchemy import create_engine

    admin = create_engine(url.replace("/conveyor?", "/postgres?"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("DROP DATABASE IF EXISTS procrastinate"))
        conn.execute(text("CREATE DATABASE procrastinate"))
    import procrastinate

    socket_dir = str(Path(pg.url("x").split("unix_sock=")[1]).parent)
    schema_app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=f"host={socket_dir} dbname=procrastinate user=postgres")
    )
    with schema_app.open():
        schema_app.schema_manager.apply_schema()

    create_rates, worker_rates, proc_rates, trips = [], [], [], []
    for round_no in range(ROUNDS):
        create_rates.append(create(CREATE))
        wr, rt = work()  # drains the CREATE jobs just made
        sent.clear()
        with session() as s:
            s.execute(text("DELETE FROM jobs"))
        service_jobs = [service.create_job(user_id=None, type="bench.noop", payload={}) for _ in range(JOBS)]
        assert len(service_jobs) == JOBS
        wr, rt = work()
        worker_rates.append(wr)
        trips.append(rt)
        proc_rates.append(procrastinate_run(JOBS))
        with session() as s:
            s.execute(text("DELETE FROM jobs"))
        print(
            f"round {round_no + 1}: create {create_rates[-1]:.0f}/s, worker {wr:.0f} jobs/s ({rt:.2f} round trips/job),"
            f" procrastinate {proc_rates[-1]:.0f} jobs/s"
        )

    worker, proc, created = (
        statistics.median(worker_rates),
        statistics.median(proc_rates),
        statistics.median(create_rates),
    )
    print(f"(a) creation through the service layer: {created:.0f} jobs/s (goal >= 1000)")
    print(f"(b) functions/worker, batches of 10: {worker:.0f} jobs/s, {statistics.median(trips):.2f} round trips/job")
    print(f"(c) procrastinate, one worker, concurrency 10: {proc:.0f} jobs/s")
    print(f"ratio (b)/(c): {worker / proc:.2f} (goal >= 5)")
    summary: dict[str, Any] = {
        "bench": "jobs",
        "worker_jobs_per_s": round(worker),
        "procrastinate_jobs_per_s": round(proc),
        "ratio": round(worker / proc, 2),
        "create_jobs_per_s": round(created),
        "round_trips_per_job": round(statistics.median(trips), 2),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
