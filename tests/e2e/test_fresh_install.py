"""A fresh install: the bot user is in no channel. ``signoff serve`` joins the public route
channels itself and refuses to start while a private one has not invited it, naming the
channel and the ``/invite`` to type, so no first card is lost."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from dataclasses import replace

from bot.sandbox import Channel, SlackSandbox, Workspace
from escalation.config import load_config
from store.ledger import Ledger
from store.models import TicketStatus
from tests.e2e.conftest import EXAMPLE, USERS, running_rig, workspace
from tests.e2e.test_reviews import refund
from tests.e2e.test_serve import _env


def fresh_workspace() -> Workspace:
    """The e2e workspace right after the install: the bot user is in no channel."""
    ws = workspace()
    return replace(ws, users=list(ws.humans()), channels=[
        Channel("C0APPROVALS", "approvals", bot_member=False),
        Channel("C0PAYMENTS", "payments", tuple(USERS), is_private=True)])


def _serve(sandbox: SlackSandbox, db_url: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot.cli", "serve", "--port", "0",
                           "--no-scheduler"], env=_env(sandbox, db_url, **env), text=True,
                          capture_output=True, timeout=60)


def test_serve_joins_public_channels_and_names_the_private_one_to_invite_to(
        ledger: Ledger, db_url: str) -> None:
    with running_rig(ledger, load_config(EXAMPLE), fresh_workspace()) as rig:
        sb = rig.sandbox
        out = _serve(sb, db_url)
        assert out.returncode == 1, out.stderr
        assert "C0PAYMENTS" in out.stderr and "route payments" in out.stderr
        assert "/invite @signoff" in out.stderr and "private" in out.stderr
        assert "C0APPROVALS" not in out.stderr.split("error:")[1]  # that one is fine now
        assert sb.bot_in("C0APPROVALS")  # joined by serve (channels:join)
        assert not sb.bot_in("C0PAYMENTS")

        sb.invite_bot("C0PAYMENTS")  # what the message asked for
        proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--host",
                                 "127.0.0.1", "--port", "0", "--no-scheduler"],
                                env=_env(sb, db_url), text=True, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert re.search(r"serving as bot", line), proc.stderr.read() if proc.stderr else ""
            restart = rig.client.request("restart_service", {"service": "api"},
                                         reason="stuck workers", requested_by="U0REQUESTER")
            for ticket, channel in ((restart, "C0APPROVALS"), (refund(rig), "C0PAYMENTS")):
                stored = ledger.get_ticket(ticket.id)
                assert stored.status == TicketStatus.PENDING and stored.card is not None
                assert stored.card.channel == channel
                assert sb.message(channel, stored.card.ts) is not None
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=15) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_a_fresh_install_without_the_check_loses_the_first_card(
        ledger: Ledger) -> None:
    # What the check prevents: the real Slack answer to a card in a channel the bot is not in.
    with running_rig(ledger, load_config(EXAMPLE), fresh_workspace()) as rig:
        ticket = ledger.get_ticket(refund(rig).id)
        assert ticket.card is None
        failures = [c for c in rig.sandbox.calls("chat.postMessage") if not c.ok]
        assert failures and failures[0].error == "channel_not_found"  # private, not invited


def test_serve_warns_when_the_audit_trail_has_no_key(ledger: Ledger, db_url: str) -> None:
    """Without SIGNOFF_AUDIT_KEY, anyone who can write the database can rewrite the trail
    and its hashes: serve says so at start, and is quiet about it once a key is set."""
    with running_rig(ledger, load_config(EXAMPLE), fresh_workspace()) as rig:
        bare = _serve(rig.sandbox, db_url, SIGNOFF_AUDIT_KEY="")
        keyed = _serve(rig.sandbox, db_url, SIGNOFF_AUDIT_KEY="k" * 40)
    assert "SIGNOFF_AUDIT_KEY is not set" in bare.stderr
    assert "SIGNOFF_AUDIT_KEY" not in keyed.stderr
    assert keyed.returncode == bare.returncode == 1  # the private channel stops both
