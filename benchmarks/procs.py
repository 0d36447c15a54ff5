"""Processes a scenario starts: ``signoff serve``, the bare baseline app, the agent."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from benchmarks.env import SECRET

REPO = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def signoff_env(*, database_url: str, api_url: str, token: str, config: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(SLACK_BOT_TOKEN=token, SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=api_url,
               SIGNOFF_DATABASE_URL=database_url, SIGNOFF_CONFIG=str(config),
               PYTHONPATH=str(REPO) + os.pathsep + env.get("PYTHONPATH", ""))
    return env


def scheduler_available() -> bool:
    """Whether this checkout's ``signoff serve`` can run its escalation sweep."""
    for module in ("escalation/scheduler.py", "bot/slack/notifier.py"):
        if not (REPO / module).exists():
            return False
    return True


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    url: str
    log: Path
    api_url: str = ""
    """The agent API of ``signoff serve`` (``/v1`` under it)."""

    @property
    def events_url(self) -> str:
        return f"{self.url}/slack/events"

    def peak_rss_mb(self) -> float:
        return status_kb(self.proc.pid, "VmHWM") / 1024

    def rss_mb(self) -> float:
        return status_kb(self.proc.pid, "VmRSS") / 1024


def status_kb(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


@contextmanager
def serving(argv: Sequence[str], env: dict[str, str], port: int, log: Path, *,
            api_port: int | None = None) -> Iterator[Server]:
    """Start an HTTP server process and wait until ``GET /healthz`` answers 200."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(list(argv), env=env, stdout=out, stderr=subprocess.STDOUT,
                                cwd=str(REPO))
    server = Server(proc, f"http://127.0.0.1:{port}", log,
                    f"http://127.0.0.1:{api_port}" if api_port else "")
    try:
        _wait_healthy(server)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_healthy(server: Server) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    port = int(server.url.rsplit(":", 1)[1])
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"server exited ({server.proc.returncode}): "
                               f"{server.log.read_text()[-2000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                conn.close()
                return
            conn.close()
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"server did not become healthy: {server.log.read_text()[-2000:]}")


def serve_bot(env: dict[str, str], log: Path, *, scheduler: bool = False,
              threads: int = 16, processes: int = 1) -> AbstractContextManager[Server]:
    """The real ``signoff serve`` (same entry point users run); ``processes``: its
    ``--processes`` (the first one's pid is the server's, the others are its children)."""
    port, api_port = free_port(), free_port()
    argv = [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port",
            str(port), "--threads", str(threads)]
    if processes > 1:
        argv += ["--processes", str(processes)]
    if (REPO / "bot" / "server" / "api").exists():  # this checkout serves the agent API
        argv += ["--api-port", str(api_port)]
    if not scheduler:
        argv.append("--no-scheduler")
    return serving(argv, env, port, log, api_port=api_port)


def serve_baseline(env: dict[str, str], log: Path, *, threads: int = 16,
                   minimal: bool = False) -> AbstractContextManager[Server]:
    """A bare Bolt app that only acks, behind the same ``HttpServer``; ``minimal``: a signed
    handler without Bolt that writes the click (see :mod:`benchmarks.baseline_app`)."""
    port = free_port()
    argv = [sys.executable, "-m", "benchmarks.baseline_app", "--port", str(port),
            "--threads", str(threads)] + (["--minimal"] if minimal else [])
    return serving(argv, env, port, log)
