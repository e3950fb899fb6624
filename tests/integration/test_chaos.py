"""Chaos for the job engine, small: 40 jobs per scenario through functions/worker in a child process, while the worker
is SIGKILLed mid-job, its connections are terminated, or Postgres restarts (bench/_chaos.py; `bench/chaos.py` is the
N = 500 version). No job may be lost, completed twice, or have its (per-attempt idempotent) side effect done twice.

The server is the test's own embedded Postgres, never the session's shared one: restarting that would break every
other test. No timing is asserted.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench._chaos import SCENARIOS, ChaosConfig, ChaosLab
from local.postgres import EmbeddedPostgres, runtime_dir
from tests.support.postgres import ROOT

# The three scenarios share one server, so they stay on one xdist worker (and do not compete for the 2 cores).
pytestmark = pytest.mark.xdist_group("chaos")

JOBS = 40


@pytest.fixture(scope="module")
def chaos(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChaosLab]:
    # Not under pytest's basetemp: pgserver runs pg_ctl as its own user, and every new pytest session (another
    # engineer's, say) makes /tmp/pytest-of-<user> private again, which would lock it out mid-restart.
    state = Path(tempfile.mkdtemp(prefix="conveyor-test-chaos-"))
    # pgserver keeps its lock where XDG_RUNTIME_DIR pointed when it was imported: the suite's folder, not `state`.
    saved_runtime = os.environ.get("XDG_RUNTIME_DIR")
    if "pgserver" not in sys.modules:
        os.environ["XDG_RUNTIME_DIR"] = str(runtime_dir(ROOT / ".local"))
        import pgserver  # noqa: F401
    pg = EmbeddedPostgres(state)
    config = ChaosConfig(
        jobs=JOBS,
        chaos_s=20,
        settle_s=30,  # > lease + tick, several times over: a job still missing then is lost
        max_kills=6,
        pg_restarts=1,
        seed=7,
        log_dir=tmp_path_factory.mktemp("chaos-logs"),
        say=lambda line: None,
    )
    try:
        pg.start()  # points XDG_RUNTIME_DIR at its own folder: put back what the session had
        _restore("XDG_RUNTIME_DIR", saved_runtime)
        with ChaosLab(pg, config) as lab:
            yield lab
    finally:
        _restore("XDG_RUNTIME_DIR", saved_runtime)
        pg.stop()
        shutil.rmtree(state, ignore_errors=True)


def _restore(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def _summary(scenario: str, r: dict[str, Any]) -> str:
    examples = "".join(f"\n  {e}" for e in r["side_effects_twice_examples"])
    return f"{ChaosLab._line(scenario, r)}{examples}\n  worker log: {r['log']}"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_no_job_is_lost_completed_twice_or_its_effect_done_twice(chaos: ChaosLab, scenario: str) -> None:
    # Given 40 jobs, a worker running them, and the sweep ticking; When the scenario's blows land mid-job
    r = chaos.run(scenario)

    # Then the blows did land, and every job completed exactly once, its side effect done exactly once
    assert r["kills_mid_job"] >= 1, _summary(scenario, r)
    assert r["lost"] == 0, _summary(scenario, r)
    assert r["completed_twice"] == 0, _summary(scenario, r)
    assert r["completed_unfinished"] == 0, _summary(scenario, r)
    assert r["side_effects_twice"] == 0, _summary(scenario, r)
