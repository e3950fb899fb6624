"""One scheduler tick of `automations.due`: 100 due automations among 1,000 and among 100,000 enabled ones.

The question: does a tick's cost follow the number of *due* automations (indexed next_run_at) rather than the
number of automations? Both sizes live in one embedded Postgres, built with SQL (generate_series): 100 users with
20 drafts each own the 100 due automations (one hourly rule each, due 30 s ago); the other automations (one rule
each, next_run_at spread over the next 24 h) belong to further users, with 5 published items per automation so
the items table grows with them. Each tick is `runner.run_due_automations` (100 automations, 100 items scheduled,
100 logs); between repetitions the due rows, their drafts and logs are reset. 3 ticks per size, medians.
Last line: {"bench": "scheduler", "tick_s_small", "tick_s_large", "ratio"} (goal: ratio <= 1.5).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _support import embedded_postgres

DUE = 100
SIZES = (1_000, int(os.environ.get("BENCH_SCHEDULER_LARGE", "100000")))
ROUNDS = int(os.environ.get("BENCH_SCHEDULER_ROUNDS", "3"))
ITEMS_PER_AUTOMATION = 5
DRAFTS_PER_DUE_USER = 20
USERS_FOR_OTHERS = 1_000


def main() -> None:
    with embedded_postgres("conveyor-bench-scheduler-") as (_pg, url):
        run(url)


def populate(url: str, total: int, now: datetime) -> None:
    """Empty the tables, then build `total` enabled automations of which DUE are due (SQL, server-side).

    Its own engine: the application's has a 10 s socket timeout and a 15 s statement timeout, made for requests.
    """
    from sqlalchemy import create_engine, text

    others = total - DUE
    statements = [
        "DELETE FROM automation_execution_logs",
        "DELETE FROM items",
        "DELETE FROM automation_rules",
        "DELETE FROM automations",
        "DELETE FROM users",
        # 100 users owning the due automations, then the owners of the others
        "INSERT INTO users (email, name) SELECT 'due' || g || '@bench', 'due' || g FROM generate_series(1, :due) g",
        "INSERT INTO users (email, name) SELECT 'u' || g || '@bench', 'u' || g FROM generate_series(1, :owners) g",
        """INSERT INTO automations (user_id, name, enabled, draft_selection_method, jitter_min_seconds,
               jitter_max_seconds, next_run_at)
           SELECT id, 'due', true, 'fifo', 0, 300, CAST(:now AS timestamptz) - interval '30 seconds'
           FROM users WHERE name LIKE 'due%'""",
        """INSERT INTO automations (user_id, name, enabled, draft_selection_method, next_run_at)
           SELECT u.id, 'other', true, 'random', CAST(:now AS timestamptz) + (mod(g, 1440) + 1) * interval '1 minute'
           FROM generate_series(1, :others) g
           JOIN (SELECT id, row_number() OVER () AS n FROM users WHERE name LIKE 'u%') u
             ON u.n = mod(g, :owners) + 1""",
        """INSERT INTO automation_rules (automation_id, type, interval_minutes, items_per_interval)
           SELECT id, 'fixed_interval', 60, 1 FROM automations""",
        """INSERT INTO items (user_id, title, status, created_at)
           SELECT u.id, 'draft ' || g, 'draft', CAST(:now AS timestamptz) - g * interval '1 minute'
           FROM users u, generate_series(1, :drafts) g WHERE u.name LIKE 'due%'""",
        # Each draft has a file (automations only take drafts with something to publish).
        """INSERT INTO media_files (user_id, bucket, key, region, status, kind)
           SELECT i.user_id, 'bench', 'media/' || i.id || '/f.png', 'us-east-1', 'ready', 'image'
           FROM items i WHERE i.status = 'draft'""",
        """INSERT INTO item_files (item_id, media_id)
           SELECT i.id, m.id FROM items i JOIN media_files m ON m.key = 'media/' || i.id || '/f.png'""",
        """INSERT INTO items (user_id, automation_id, title, status, scheduled_at, actual_publish_at, published_at)
           SELECT a.user_id, a.id, 'old', 'published', CAST(:now AS timestamptz) - interval '2 days',
                  CAST(:now AS timestamptz) - interval '2 days',
                  CAST(:now AS timestamptz) - interval '2 days'
           FROM automations a, generate_series(1, :per) g""",
    ]
    params: dict[str, Any] = {
        "due": DUE,
        "owners": min(USERS_FOR_OTHERS, max(others, 1)),
        "others": others,
        "now": now,
        "drafts": DRAFTS_PER_DUE_USER,
        "per": ITEMS_PER_AUTOMATION,
    }
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            for sql in statements:
                conn.execute(text(sql), {k: v for k, v in params.items() if f":{k}" in sql})
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    finally:
        engine.dispose()


def reset(now: datetime) -> None:
    """Make the same 100 automations due again with their drafts back (as if the tick had not happened)."""
    from sqlalchemy import text

    from shared.db import get_engine

    with get_engine().begin() as conn:
        conn.execute(text("DELETE FROM automation_execution_logs"))
        conn.execute(
            text(
                "UPDATE items SET status = 'draft', scheduled_at = NULL, actual_publish_at = NULL, jitter_seconds = 0,"
                " automation_id = NULL WHERE status = 'scheduled'"
            )
        )
        conn.execute(
            text("UPDATE automations SET next_run_at = :at, last_run_at = NULL WHERE name = 'due'"),
            {"at": now - timedelta(seconds=30)},
        )


def tick(now: datetime) -> tuple[float, int]:
    from shared.automations import runner

    started = time.perf_counter()
    scheduled = runner.run_due_automations(now=now)
    return time.perf_counter() - started, scheduled


def run(url: str) -> None:
    os.environ.update(DATABASE_URL=url, POWERTOOLS_LOG_LEVEL="ERROR", AWS_DEFAULT_REGION="us-east-1")
    from shared.db.migrate import upgrade

    upgrade()
    # The top of an hour: the hourly slot of the due automations; the tick runs 10 s after it.
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    medians: list[float] = []
    for total in SIZES:
        started = time.perf_counter()
        populate(url, total, now)
        print(f"{total:,} automations: populated in {time.perf_counter() - started:.1f} s", flush=True)
        tick(now + timedelta(seconds=10))  # warm-up: imports, statement caches, the pool's connection
        times = []
        for round_no in range(ROUNDS):
            reset(now)
            elapsed, scheduled = tick(now + timedelta(seconds=10))
            assert scheduled == DUE, scheduled
            times.append(elapsed)
            print(f"  round {round_no + 1}: tick {elapsed * 1000:.1f} ms ({scheduled} items scheduled)", flush=True)
        medians.append(statistics.median(times))
    small, large = medians
    print(f"tick with {DUE} due: {small * 1000:.1f} ms among {SIZES[0]:,}, {large * 1000:.1f} ms among {SIZES[1]:,}")
    print(
        json.dumps(
            {
                "bench": "scheduler",
                "tick_s_small": round(small, 4),
                "tick_s_large": round(large, 4),
                "ratio": round(large / small, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
