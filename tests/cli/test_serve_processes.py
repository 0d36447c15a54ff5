"""``signoff serve --processes``: the supervisor of the processes beyond the first, on real
processes (a sleeping Python stands in for a serving process)."""

from __future__ import annotations

import signal
import sys
import time

import pytest

from bot.server import processes
from bot.server.processes import Workers

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def _until(predicate: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_a_process_that_dies_is_started_again_and_stop_ends_them_all(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(processes, "STEADY", 0.2)
    monkeypatch.setattr(processes, "LOOK_EVERY", 0.05)
    workers = Workers(SLEEPER, 2).start()
    try:
        first = [p.pid for p in workers.procs]
        time.sleep(0.3)  # past STEADY: a steady process
        workers.procs[0].send_signal(signal.SIGKILL)
        _until(lambda: workers.procs[0].pid != first[0] and workers.procs[0].poll() is None)
        assert workers.procs[1].pid == first[1]
    finally:
        workers.stop(timeout=5)
    assert all(p.poll() is not None for p in workers.procs)


def test_a_process_that_exits_at_once_is_not_started_again(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(processes, "LOOK_EVERY", 0.05)
    workers = Workers([sys.executable, "-c", "raise SystemExit(3)"], 1).start()
    try:
        _until(lambda: 0 in workers.given_up)
        pid = workers.procs[0].pid
        time.sleep(0.3)
        assert workers.procs[0].pid == pid and workers.procs[0].returncode == 3
        assert "not started again" in caplog.text
    finally:
        workers.stop(timeout=5)
