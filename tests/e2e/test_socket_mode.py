"""``signoff serve --socket-mode`` end to end: the sandbox's Socket Mode endpoint sends
real-format envelopes over a WebSocket and expects acks; no signing secret is needed; SIGTERM
finishes acknowledged decisions and closes the ledger."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest
from slack_sdk import WebClient

from bot.render import ACTION_APPROVE, ACTION_REJECT, REASON_ACTION
from bot.sandbox import SlackSandbox
from store.models import TicketStatus
from tests.e2e.conftest import Rig
from tests.e2e.test_reviews import refund, settled
from tests.e2e.test_serve import _env
from tests.sandbox.test_webapi import error_of


def test_connections_open_takes_only_an_app_token(rig: Rig) -> None:
    sb = rig.sandbox
    bot = WebClient(base_url=sb.api_url, token=sb.bot_token)
    assert error_of(bot.apps_connections_open,
                    app_token=sb.bot_token)["error"] == "not_allowed_token_type"
    assert error_of(bot.apps_connections_open, app_token="xapp-wrong")["error"] == "invalid_auth"
    url = bot.apps_connections_open(app_token=sb.app_token)["url"]
    assert url.startswith("ws://127.0.0.1:") and "ticket=" in url


def _socket_env(sandbox: SlackSandbox, db_url: str) -> dict[str, str]:
    env = _env(sandbox, db_url, SLACK_APP_TOKEN=sandbox.app_token)
    env.pop("SLACK_SIGNING_SECRET")  # nothing comes over HTTP, so nothing to verify
    return env


@pytest.fixture
def socket_serve(rig: Rig, db_url: str) -> Iterator[subprocess.Popen[str]]:
    rig.sandbox.set_request_url(None)  # no request URL: only the socket can deliver
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--socket-mode",
                             "--no-scheduler"], env=_socket_env(rig.sandbox, db_url),
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert "over Socket Mode" in line, proc.stderr.read() if proc.stderr else ""
    assert rig.sandbox.socket.wait_connected()
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.slow
def test_clicks_modals_and_events_over_socket_mode(rig: Rig,
                                                   socket_serve: subprocess.Popen[str]) -> None:
    sb = rig.sandbox
    approved = refund(rig)
    result = sb.click("U0PAYLEAD", action_id=ACTION_APPROVE, channel="C0PAYMENTS",
                      message_ts=rig.card_ts(approved.id))
    assert result.ok and result.elapsed < 3
    assert settled(rig, approved.id).status == TicketStatus.APPROVED
    envelope = sb.socket.envelopes[-1]
    assert envelope["type"] == "interactive" and envelope["payload"]["type"] == "block_actions"
    assert envelope["accepts_response_payload"] is False
    assert sb.socket.acks[-1]["envelope_id"] == envelope["envelope_id"]

    rejected = refund(rig, 130)
    sb.click("U0FINOPS", action_id=ACTION_REJECT, channel="C0PAYMENTS",
             message_ts=rig.card_ts(rejected.id))
    sb.wait_until(lambda: sb.views("U0FINOPS"))
    submitted = sb.submit("U0FINOPS", {REASON_ACTION: "duplicate refund"})
    assert submitted.ok
    assert sb.socket.envelopes[-1]["accepts_response_payload"] is True  # view_submission
    assert settled(rig, rejected.id).status == TicketStatus.REJECTED

    home = sb.open_app_home("U0PAYLEAD")
    assert home.ok and sb.socket.envelopes[-1]["type"] == "events_api"
    assert sb.wait_until(lambda: sb.home("U0PAYLEAD"))


@pytest.mark.slow
def test_sigterm_finishes_an_acknowledged_decision(rig: Rig,
                                                   socket_serve: subprocess.Popen[str]) -> None:
    sb = rig.sandbox
    ticket = rig.client.request("restart_service", {"service": "api"}, reason="stuck",
                                requested_by="U0REQUESTER")  # approvers: a user group
    sb.inject_fault("usergroups.users.list", delay=1.5)  # the decision is still running ...
    assert sb.click("U0SRE1", action_id=ACTION_APPROVE, channel="C0APPROVALS").ok
    socket_serve.send_signal(signal.SIGTERM)  # ... when the process is told to stop
    assert socket_serve.wait(timeout=20) == 0
    assert rig.ledger.get_ticket(ticket.id).status == TicketStatus.APPROVED
    assert socket_serve.stderr is not None
    assert "shutting down" in socket_serve.stderr.read()


def test_socket_mode_needs_an_app_token(rig: Rig, db_url: str) -> None:
    env = _socket_env(rig.sandbox, db_url)
    env.pop("SLACK_APP_TOKEN")
    out = subprocess.run([sys.executable, "-m", "bot.cli", "serve", "--socket-mode",
                          "--no-scheduler"], env=env, text=True, capture_output=True,
                         timeout=60)
    assert out.returncode == 1 and "SLACK_APP_TOKEN is not set" in out.stderr
    assert "SLACK_SIGNING_SECRET" not in out.stderr
