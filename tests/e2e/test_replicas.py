"""Two `signoff serve` replicas on one PostgreSQL: a click on one wakes an agent waiting on
the other (LISTEN/NOTIFY), and a revoked token fails on both at once."""

from __future__ import annotations

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
