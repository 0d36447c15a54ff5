"""``signoff serve --processes N``: more serving processes on one host.

One Python process does its work one thread at a time (the interpreter lock), so a busy
``signoff serve`` uses about one core however many the host has. With ``--processes N`` the
first process (the one started) binds both ports with ``SO_REUSEPORT``, then starts N - 1
more that bind the same ports: the kernel spreads new connections over all of them. They
share the ledger as replicas do (PostgreSQL only: a decision in one process wakes an agent
waiting in another through ``LISTEN``); only the first runs the sweep, the click replay and
the webhook sender.

``GET /metrics`` answers for all of them whichever process a scrape reaches: before it
serves, the first process starts itself again with ``prometheus_client``'s multiprocess mode
on (:func:`shared_metrics`), and every process counts into files in one directory.

A process that exits on its own is started again, unless it exits within ``STEADY`` of its
start (a configuration it cannot serve with: the same would happen again); the first process
keeps serving either way. A process whose first process is gone stops by itself, so none is
left holding the ports.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

#: A process that ran at least this long before it exited is started again.
STEADY = 10.0
#: How often a process looks for its first process, and the supervisor for its processes.
LOOK_EVERY = 1.0
#: prometheus_client's multiprocess mode: set when it is imported, so before the first metric.
METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR"
#: The metrics directory ``signoff serve`` made for itself (removed when the first one stops).
OWN_METRICS_DIR = "SIGNOFF_OWN_METRICS_DIR"


def shared_metrics(argv: Sequence[str]) -> None:
    """Make every serving process count into one place, so ``/metrics`` in any of them
    reports them all. prometheus_client picks its mode when it is imported, which the
    command line has done already: so this process is replaced by the same command with
    a fresh metrics directory set (same process id; nothing served yet). Returns at once
    when a directory is set (an operator's own, or after the restart)."""
    if os.environ.get(METRICS_DIR):
        return
    path = tempfile.mkdtemp(prefix="signoff-metrics-")
    os.environ[METRICS_DIR] = os.environ[OWN_METRICS_DIR] = path
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", "bot.cli", *argv])


def drop_own_metrics() -> None:
    """Remove the metrics directory this ``signoff serve`` made (an operator's stays)."""
    own = os.environ.get(OWN_METRICS_DIR)
    if own and own == os.environ.get(METRICS_DIR):
        shutil.rmtree(own, ignore_errors=True)


@dataclass
class Workers:
    """The processes beyond the first: started, watched and started again, then stopped."""

    argv: Sequence[str]
    count: int
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    started: list[float] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    given_up: set[int] = field(default_factory=set)

    def start(self) -> Workers:
        for _ in range(self.count):
            self.procs.append(subprocess.Popen(list(self.argv)))
            self.started.append(time.monotonic())
        threading.Thread(target=self._watch, name="signoff-processes", daemon=True).start()
        return self

    def _watch(self) -> None:
        while not self.stopping.wait(LOOK_EVERY):
            for n, proc in enumerate(self.procs):
                if n not in self.given_up and proc.poll() is not None:
                    self._replace(n, proc)

    def _replace(self, n: int, proc: subprocess.Popen[bytes]) -> None:
        if self.stopping.is_set():
            return
        ran = time.monotonic() - self.started[n]
        if ran < STEADY:
            log.error("serving process %s exited with %s after %.1f s; not started again "
                      "(see its output above)", proc.pid, proc.returncode, ran)
            self.given_up.add(n)
            return
        log.error("serving process %s exited with %s; starting another", proc.pid,
                  proc.returncode)
        self.procs[n] = subprocess.Popen(list(self.argv))
        self.started[n] = time.monotonic()

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM to every process (each finishes what it acknowledged), then wait."""
        self.stopping.set()
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + timeout
        for proc in self.procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def worker_argv(*, host: str, port: int, api_port: int, threads: int) -> list[str]:
    """``signoff serve`` for one more process on the first one's ports (settings come from
    the same environment)."""
    return [sys.executable, "-m", "bot.cli", "serve", "--host", host, "--port", str(port),
            "--api-port", str(api_port), "--threads", str(threads), "--no-scheduler",
            "--worker"]


def stop_with_parent(stop: Callable[[], None]) -> None:
    """Call ``stop`` once the process that started this one is gone."""
    parent = os.getppid()

    def look() -> None:
        while os.getppid() == parent:
            time.sleep(LOOK_EVERY)
        log.warning("the first serving process is gone; stopping")
        stop()

    threading.Thread(target=look, name="signoff-parent", daemon=True).start()
