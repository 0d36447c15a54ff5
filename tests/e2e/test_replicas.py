"""Two `signoff serve` replicas on one PostgreSQL: a click on one wakes an agent waiting on
the other (LISTEN/NOTIFY), and a revoked token fails on both at once."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import httpx
import pytest

from bot.render import ACTION_APPROVE
from store.agents import AgentStore
from tests.e2e.conftest import Rig
from tests.e2e.test_serve import _env

BODY = {"action": "issue_refund", "args": {"amount": 120, "customer": "cus_42"},
        "reason": "double charge", "requested_by": "U0REQUESTER"}


@contextmanager
def replica(rig: Rig, db_url: str) -> Iterator[tuple[str, str]]:
    """One `signoff serve`: (Slack front door URL, agent API URL)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", "0",
         "--no-scheduler"], env=_env(rig.sandbox, db_url), text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"on (http://\S+) .*agent API on (http://\S+)/v1", line)
    assert match, (line, proc.stderr.read() if proc.stderr else "")
    try:
        yield match.group(1), match.group(2)
    finally:
        proc.terminate()
        proc.wait(timeout=15)


@pytest.mark.slow
def test_a_click_on_one_replica_wakes_a_waiter_on_the_other(rig: Rig, db_url: str) -> None:
    if not db_url.startswith("postgres"):
        pytest.skip("replicas share PostgreSQL; SQLite runs one serve process")
    _, token = AgentStore(rig.ledger).add("refund-bot", actions=("*",), max_pending=5)
    auth = {"Authorization": f"Bearer {token}"}
    with ExitStack() as stack:
        a_slack, a = stack.enter_context(replica(rig, db_url))
        _, b = stack.enter_context(replica(rig, db_url))
        rig.sandbox.set_request_url(f"{a_slack}/slack/events")
        agent = stack.enter_context(httpx.Client(base_url=b, headers=auth, timeout=60))
        ticket = agent.post("/v1/requests", json=BODY).json()
        assert ticket["status"] == "pending"
        clicked: list[float] = []

        def click() -> None:
            time.sleep(0.5)
            clicked.append(time.monotonic())
            rig.sandbox.click("U0PAYLEAD", action_id=ACTION_APPROVE, channel="C0PAYMENTS")

        threading.Thread(target=click).start()
        doc = agent.get(f"/v1/requests/{ticket['id']}", params={"wait": 30}).json()
        woke_after = time.monotonic() - clicked[0]
        assert doc["status"] == "approved" and woke_after < 5, woke_after

        AgentStore(rig.ledger).revoke("refund-bot")
        for url in (a, b):
            resp = httpx.get(f"{url}/v1/requests/{ticket['id']}", headers=auth)
            assert resp.status_code == 401 and resp.json()["error"] == "unauthorized"


def _listeners(port: int) -> int:
    """Listening TCP sockets on ``port`` (every process's own, with SO_REUSEPORT)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as fh:
            for row in fh.readlines()[1:]:
                local, state = row.split()[1], row.split()[3]
                count += state == "0A" and int(local.rsplit(":", 1)[1], 16) == port
    return count


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as fh:
        return [int(p) for p in fh.read().split()]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.slow
def test_serve_processes_share_both_ports_and_stop_together(rig: Rig, db_url: str) -> None:
    if not db_url.startswith("postgres"):
        pytest.skip("more serving processes share PostgreSQL")
    _, token = AgentStore(rig.ledger).add("refund-bot", actions=("*",), max_pending=50)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", "0",
         "--processes", "2"], env=_env(rig.sandbox, db_url), text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    try:
        lines = [proc.stdout.readline(), proc.stdout.readline()]
        found = [re.search(r"on (http://\S+) .*agent API on (http://\S+)/v1", ln) for ln in lines]
        assert all(found), (lines, proc.stderr.read() if proc.stderr else "")
        assert {m.groups() for m in found if m} == {found[0].groups()}  # type: ignore[union-attr]
        slack, api = found[0].groups()  # type: ignore[union-attr]
        assert sum("one more process" in ln for ln in lines) == 1
        (worker,) = _children(proc.pid)
        for url in (slack, api):
            assert _listeners(int(url.rsplit(":", 1)[1])) == 2
        rig.sandbox.set_request_url(f"{slack}/slack/events")
        auth = {"Authorization": f"Bearer {token}"}
        made = [httpx.post(f"{api}/v1/requests", headers=auth, timeout=30,  # new connections
                           json={**BODY, "args": {"amount": n + 1, "customer": "cus_42"}})
                for n in range(12)]
        assert [r.status_code for r in made] == [200] * 12
        for ticket in made:
            rig.sandbox.click("U0PAYLEAD", action_id=ACTION_APPROVE, channel="C0PAYMENTS",
                              message_ts=rig.card_ts(ticket.json()["id"]))
        for ticket in made:  # each long-poll is woken whichever process decided
            doc = httpx.get(f"{api}/v1/requests/{ticket.json()['id']}", headers=auth,
                            params={"wait": 20}, timeout=30).json()
            assert doc["status"] == "approved"
        shared = _metrics_dir(proc.pid)
        _every_scrape_counts_both_processes(slack)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    deadline = time.monotonic() + 10
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(worker)
    assert not os.path.exists(shared), "the metrics directory it made goes with it"


def _metrics_dir(pid: int) -> str:
    with open(f"/proc/{pid}/environ", "rb") as f:
        env = dict(item.split(b"=", 1) for item in f.read().split(b"\0") if b"=" in item)
    return env[b"PROMETHEUS_MULTIPROC_DIR"].decode()


def _every_scrape_counts_both_processes(slack: str) -> None:
    """Health checks on new connections land on both processes; every scrape, whichever
    process answers it, counts all of them."""
    def healthz_count(text: str) -> float:
        found = re.search(r'^signoff_http_requests_total\{code="200",path="/healthz"\} (\S+)$',
                          text, re.M)
        return float(found.group(1)) if found else 0.0

    for _ in range(20):
        assert httpx.get(f"{slack}/healthz", timeout=10).status_code == 200
    scrapes = [httpx.get(f"{slack}/metrics", timeout=10).text for _ in range(8)]
    assert [healthz_count(t) for t in scrapes] == [20.0] * 8


def test_serve_processes_need_postgresql(rig: Rig, db_url: str) -> None:
    if db_url.startswith("postgres"):
        pytest.skip("SQLite's refusal")
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", "0",
         "--processes", "2"], env=_env(rig.sandbox, db_url), text=True,
        capture_output=True, timeout=60)
    assert done.returncode != 0 and "--processes 2 needs PostgreSQL" in done.stderr
    assert "serving as bot" not in done.stdout
    none = subprocess.run(
        [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", "0",
         "--processes", "0"], env=_env(rig.sandbox, db_url), text=True,
        capture_output=True, timeout=60)
    assert none.returncode != 0 and "--processes 0: must be at least 1" in none.stderr
