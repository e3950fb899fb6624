"""Fixtures for the end-to-end tests: one laptop stack per session (see harness.py), stopped with Ctrl-C."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest

from tests.e2e.harness import RunningStack, leftover_processes, start_stack


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """One laptop stack for the session (scheduler ticking every 2 s); stopping it with Ctrl-C is checked too."""
    stack = start_stack(tmp_path_factory.mktemp("stack"), "--tick", "2")
    postmaster = stack.postmaster_pid()
    yield stack
    code = stack.stop(signal.SIGINT)
    assert code == 0, stack.output.tail()
    assert stack.output.lines[-1] == "stopped", stack.output.tail()
    assert leftover_processes(stack, postmaster) == []
