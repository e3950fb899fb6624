"""Chaos for the job engine: does any job get lost, completed twice, or its side effect done twice?

N jobs (CHAOS_JOBS, default 500) of a type that records every execution and does one idempotent side effect each,
run by functions/worker in a child process, against an embedded Postgres that the parent keeps alive, while
  (a) sigkill:     the worker is SIGKILLed mid-job every 0.3-1 s (random) and restarted;
  (b) terminate:   the worker's connections are killed with pg_terminate_backend every 0.3-1 s;
  (c) pg_restart:  Postgres is restarted on the same data folder twice (fast, then immediate) mid-run.
The parent runs the sweep steps every 0.5 s. The damage goes on until every job completed (at most 90 s), then
up to 120 s for the rest to complete; a job not completed then is lost.
See bench/_chaos.py for the harness (shared with tests/integration/test_chaos.py). CHAOS_SCENARIOS picks some,
CHAOS_SEED fixes the random pauses.
Last line: {"bench": "chaos", "jobs", "lease_s", "tick_s", "scenarios": {name: {...}}, "lost", "completed_twice",
"side_effects_twice"} (the last three summed over the scenarios; the goal is 0 for each).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _support import embedded_postgres

from bench._chaos import SCENARIOS, TICK_S, ChaosConfig, ChaosLab, lease_s

JOBS = int(os.environ.get("CHAOS_JOBS", "500"))
CHOSEN = tuple(s for s in os.environ.get("CHAOS_SCENARIOS", ",".join(SCENARIOS)).split(",") if s)
SEED = int(os.environ["CHAOS_SEED"]) if os.environ.get("CHAOS_SEED") else None
HEADLINE = (
    "completed",
    "lost",
    "statuses",
    "completed_twice",
    "completed_unfinished",
    "side_effects_twice",
    "side_effects_max",
    "completed_without_effect",
    "executions",
    "executions_unfinished",
    "overlapping_runs",
    "kills",
    "kills_mid_job",
    "kills_unrecovered",
    "connections_terminated",
    "time_to_recover_s",
    "time_to_release_s",
    "releases_over_bound",
    "worker_deaths",
    "restarts",
    "lease_s",
    "lease_observed_s",
    "bound_s",
    "wall_s",
)


def main() -> None:
    os.environ.update(POWERTOOLS_LOG_LEVEL="ERROR", AWS_DEFAULT_REGION="us-east-1")
    started = time.monotonic()
    results: dict[str, dict[str, Any]] = {}
    with embedded_postgres("conveyor-bench-chaos-") as (pg, _url):
        config = ChaosConfig(jobs=JOBS, seed=SEED)
        with ChaosLab(pg, config) as lab:
            print(f"{JOBS} jobs per scenario; lease {lease_s()} s, sweep every {TICK_S} s; logs in {lab.log_dir}")
            for scenario in CHOSEN:
                results[scenario] = lab.run(scenario)
                for example in results[scenario]["side_effects_twice_examples"]:
                    print(f"  side effect twice: {example}")
    print(f"total {time.monotonic() - started:.0f} s")
    summary: dict[str, Any] = {
        "bench": "chaos",
        "jobs": JOBS,
        "lease_s": lease_s(),
        "tick_s": TICK_S,
        "scenarios": {name: {k: r[k] for k in HEADLINE} for name, r in results.items()},
        "lost": sum(r["lost"] for r in results.values()),
        "completed_twice": sum(r["completed_twice"] for r in results.values()),
        "side_effects_twice": sum(r["side_effects_twice"] for r in results.values()),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
