"""`signoff serve` as a real process: start-up checks, /healthz, a click, SIGTERM."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.render import ACTION_APPROVE
from bot.sandbox import SlackSandbox
from store.models import TicketStatus
from tests.e2e.conftest import EXAMPLE, SECRET, Rig, workspace
from tests.e2e.test_reviews import refund, settled


def _env(sandbox: SlackSandbox, db_url: str, **extra: str) -> dict[str, str]:
    return {**os.environ, "SLACK_BOT_TOKEN": sandbox.bot_token, "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": sandbox.api_url, "SIGNOFF_DATABASE_URL": db_url,
            "SIGNOFF_CONFIG": str(EXAMPLE), "PYTHONPATH": str(Path(__file__).parents[2]),
            **extra}


@pytest.fixture
def served(rig: Rig, db_url: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", "0"],
        env=_env(rig.sandbox, db_url), text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"on (http://\S+) ", line)
    assert match, (line, proc.stderr.read() if proc.stderr else "")
    api = re.search(r"agent API on (http://\S+)/v1", line)
    assert api, line
    with urllib.request.urlopen(f"{api.group(1)}/v1/openapi.json", timeout=5) as resp:
        assert "/v1/requests" in json.loads(resp.read())["paths"]
    try:
        yield proc, match.group(1)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_serve_handles_clicks_health_and_sigterm(served: tuple[subprocess.Popen[str], str],
                                                 rig: Rig) -> None:
    proc, url = served
    with urllib.request.urlopen(f"{url}/healthz", timeout=5) as resp:
        health = json.loads(resp.read())
    assert resp.status == 200 and health["ok"] and health["config"] == "2026-11-20"
    rig.sandbox.set_request_url(f"{url}/slack/events")
    ticket = refund(rig)
    result = rig.sandbox.click("U0PAYLEAD", action_id=ACTION_APPROVE, channel="C0PAYMENTS")
    assert result.ok and result.elapsed < 3
    assert settled(rig, ticket.id).status == TicketStatus.APPROVED
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0


@pytest.mark.parametrize(("override", "expected"), [
    ({"SLACK_BOT_TOKEN": "xoxb-wrong"}, "Slack refused SLACK_BOT_TOKEN"),
    ({"SLACK_SIGNING_SECRET": ""}, "SLACK_SIGNING_SECRET is not set"),
    ({"SIGNOFF_CONFIG": "/nonexistent/signoff.yml"}, "/nonexistent/signoff.yml"),
])
def test_serve_refuses_to_start_with_a_clear_error(db_url: str, override: dict[str, str],
                                                   expected: str) -> None:
    with SlackSandbox(workspace(), signing_secret=SECRET) as sandbox:
        env = _env(sandbox, db_url, **override)
        env = {k: v for k, v in env.items() if v != ""}
        out = subprocess.run([sys.executable, "-m", "bot.cli", "serve", "--port", "0",
                              "--no-scheduler"], env=env, text=True, capture_output=True,
                             timeout=60)
    assert out.returncode == 1
    assert expected in out.stderr


def test_unmigrated_database_says_run_migrate(tmp_path: Path) -> None:
    with SlackSandbox(workspace(), signing_secret=SECRET) as sandbox:
        env = _env(sandbox, f"sqlite:///{tmp_path / 'empty.db'}")
        out = subprocess.run([sys.executable, "-m", "bot.cli", "serve", "--port", "0"],
                             env=env, text=True, capture_output=True, timeout=60)
    assert out.returncode == 1 and "signoff migrate" in out.stderr
