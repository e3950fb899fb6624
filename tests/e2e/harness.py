"""Run the laptop stack as a developer does: `python -m local` in a subprocess, talked to over HTTP.

Each stack gets its own `--state-dir` under pytest's temporary folder (never the developer's `.local`, where a
`make dev` may be running) and free ports. The subprocess output is collected in a background thread so tests
can wait for what the functions log.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]
RUNNING_LINE = "Conveyor is running"
START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 20
_BANNER = re.compile(r"^\s+(?P<label>[A-Za-z][A-Za-z ]*):\s+(?P<value>\S+)\s*$")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Output:
    """Every line the subprocess printed (stdout and stderr), with a way to wait for a line."""

    def __init__(self, stream) -> None:  # type: ignore[no-untyped-def]
        self.lines: list[str] = []
        self.closed = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:  # type: ignore[no-untyped-def]
        for line in stream:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    def wait_for(self, predicate: Callable[[str], bool], timeout_s: float) -> str | None:
        """The first line (already printed or to come) matching `predicate`, or None after the timeout or EOF."""
        deadline = time.monotonic() + timeout_s
        seen = 0
        with self._cond:
            while True:
                for line in self.lines[seen:]:
                    if predicate(line):
                        return line
                seen = len(self.lines)
                remaining = deadline - time.monotonic()
                if self.closed or remaining <= 0:
                    return None
                self._cond.wait(remaining)

    def join(self, timeout_s: float = 5) -> None:
        self._thread.join(timeout_s)

    def tail(self, n: int = 60) -> str:
        with self._cond:
            return "\n".join(self.lines[-n:])


@dataclass
class RunningStack:
    process: subprocess.Popen[str]
    state_dir: Path
    output: Output
    banner: dict[str, str] = field(default_factory=dict)

    @property
    def api_url(self) -> str:
        return self.banner["API"]

    @property
    def aws_endpoint(self) -> str:
        return self.banner["AWS endpoint"]

    @property
    def admin_key(self) -> str:
        return self.banner["Admin API key"]

    @property
    def bucket(self) -> str:
        return self.banner["Media bucket"]

    @property
    def jobs_queue_url(self) -> str:
        return self.banner["Jobs queue"]

    @property
    def media_queue_url(self) -> str:
        return self.banner["Media queue"]

    @property
    def pgdata(self) -> Path:
        return self.state_dir / "pg"

    def postmaster_pid(self) -> int | None:
        """The embedded Postgres server's pid, from its pid file (None with a user-supplied DATABASE_URL)."""
        pid_file = self.pgdata / "postmaster.pid"
        if not pid_file.exists():
            return None
        return int(pid_file.read_text().splitlines()[0])

    def stop(self, sig: signal.Signals | None = signal.SIGINT) -> int:
        """Signal the stack (None: it was signalled already) and wait for it to exit; returns its exit code (killing
        it if it hangs)."""
        if sig is not None and self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            code = self.process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            after = sig.name if sig is not None else "its signal"
            pytest.fail(f"the stack did not stop within {STOP_TIMEOUT_S} s after {after}:\n{self.output.tail()}")
        self.output.join()
        return code


def _stack_env() -> dict[str, str]:
    env = dict(os.environ)
    # The tests' own settings (root conftest) must not leak in: the stack sets its AWS endpoint and database.
    for name in ("DATABASE_URL", "AWS_ENDPOINT_URL", "POWERTOOLS_DEV", "XDG_RUNTIME_DIR"):
        env.pop(name, None)
    if os.environ.get("CONVEYOR_E2E_DATABASE_URL"):  # opt-in: run the stack on your own Postgres
        env["DATABASE_URL"] = os.environ["CONVEYOR_E2E_DATABASE_URL"]
    env.update(PYTHONUNBUFFERED="1", POWERTOOLS_LOG_LEVEL="INFO")
    # The fuzzer drives one credential at ~1,000 requests a minute, past the per-credential limit a person needs
    # (600): raised here so the run explores the API instead of collecting 429s. The limit itself is tested in
    # tests/integration/test_rate_limit.py.
    env.setdefault("CONVEYOR_RATE_LIMIT_REQUESTS", "1000000")
    return env


def start_stack(state_dir: Path, *args: str) -> RunningStack:
    """Start `python -m local` and wait for its `Conveyor is running` line, collecting the printed settings."""
    process = subprocess.Popen(
        [sys.executable, "-m", "local", "--port", str(free_port()), "--state-dir", str(state_dir), *args],
        cwd=ROOT,
        env=_stack_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    stack = RunningStack(process=process, state_dir=state_dir, output=Output(process.stdout))
    if stack.output.wait_for(lambda line: line.startswith(RUNNING_LINE), START_TIMEOUT_S) is None:
        stack.stop(signal.SIGINT)
        pytest.fail(f"the stack did not start within {START_TIMEOUT_S} s:\n{stack.output.tail()}")
    for line in stack.output.lines:
        if line.startswith(RUNNING_LINE):
            break
        if match := _BANNER.match(line):
            stack.banner[match["label"]] = match["value"]
    return stack


def leftover_processes(stack: RunningStack, postmaster_pid: int | None, timeout_s: float = 5) -> list[str]:
    """Processes the stack left behind (its Postgres): none once a reaped postmaster is gone."""
    deadline = time.monotonic() + timeout_s
    while True:
        left = []
        for proc in psutil.process_iter(["pid", "cmdline", "status"]):
            if proc.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            cmdline = " ".join(proc.info["cmdline"] or [])
            if proc.info["pid"] == postmaster_pid or str(stack.state_dir) in cmdline:
                left.append(f"{proc.info['pid']}: {cmdline}")
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)
