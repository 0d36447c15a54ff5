"""The agent-side client against the local Slack-compatible server, over both transports:
embedded (ledger and Slack token in the agent) and HTTP (the gateway, a token only)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from bot import (
    ApprovalConsumed,
    ApprovalDenied,
    ApprovalUnverifiable,
    ArgumentsMismatch,
    RevalidationFailed,
)
from bot.agent.client import ApprovalClient
from bot.render import ACTION_APPROVE
from store.models import TicketStatus
from tests.e2e.conftest import EXAMPLE, Gate, Rig, running_gateway
from tests.e2e.test_reviews import settled

ARGS = {"amount": 120, "customer": "cus_42"}


def _request(client: ApprovalClient, **kw: Any) -> Any:
    return client.request("issue_refund", dict(ARGS), reason="double charge",
                              requested_by="U0REQUESTER", **kw)


def test_request_posts_exactly_one_card_and_is_idempotent(rig: Rig, client: ApprovalClient) -> None:
    first = _request(client, idempotency_key="run-7:refund")
    again = _request(client, idempotency_key="run-7:refund")
    assert again.id == first.id
    posts = [c for c in rig.sandbox.calls("chat.postMessage") if c.ok]
    assert len(posts) == 1 and posts[0].args["channel"] == "C0PAYMENTS"
    assert first.card is not None and first.card.ts == posts[0].response["ts"]
    other = _request(client, idempotency_key="run-8:refund")
    assert other.id != first.id
    assert len(rig.sandbox.calls("chat.postMessage")) == 2


def test_allow_is_audited_and_deny_raises(rig: Rig, client: ApprovalClient) -> None:
    allowed = client.request("search_orders", {"q": "cus_42"}, reason="lookup",
                                 requested_by="U0REQUESTER")
    assert allowed.status == TicketStatus.APPROVED and allowed.decided_by == "signoff"
    assert allowed.policy_rule is not None and "search_" in allowed.policy_rule
    assert rig.sandbox.calls("chat.postMessage") == []
    with pytest.raises(ApprovalDenied) as info:
        client.request("drop_database", {"name": "prod"}, reason="cleanup",
                           requested_by="U0REQUESTER")
    assert info.value.reason == "never from an agent"
    kinds = [e.kind for e in rig.ledger.audit_events()
             if (e.ticket_id or e.kind == "denied") and e.kind != "policy_applied"]
    assert kinds == ["created", "denied"]
    assert client.call(lambda q: f"found {q}", {"q": "x"}, action="search_orders",
                           reason="lookup", requested_by="U0REQUESTER") == "found x"


def test_a_ticket_approved_by_sql_never_runs(rig: Rig, client: ApprovalClient) -> None:
    """Nobody clicked: the row was set to approved behind signoff's back. The agent's wait
    returns (the row says approved), and the execution refuses: no approval event backs it."""
    from sqlalchemy import update

    from store.tables import TicketRow

    ticket = _request(client)
    with rig.ledger.engine.begin() as conn:
        conn.execute(update(TicketRow).where(TicketRow.id == ticket.id)
                     .values(status="approved", approvals=["U0PAYLEAD"]))
    assert client.wait(ticket.id, timeout=5).status == TicketStatus.APPROVED
    ran: list[Any] = []
    with pytest.raises(ApprovalUnverifiable, match="signoff audit verify"):
        client.execute(ticket.id, lambda **kw: ran.append(kw), args=dict(ARGS),
                       action="issue_refund")
    assert ran == []
    assert rig.ledger.get_ticket(ticket.id).status == TicketStatus.APPROVED
    assert not rig.ledger.verify_audit().ok


def test_altered_arguments_are_refused_by_hash(rig: Rig, client: ApprovalClient) -> None:
    ticket = _request(client)
    rig.sandbox.click("U0PAYLEAD", action_id=ACTION_APPROVE, channel="C0PAYMENTS")
    settled(rig, ticket.id)
    ran: list[Any] = []
    with pytest.raises(ArgumentsMismatch):
        client.execute(ticket.id, lambda **kw: ran.append(kw),
                       args={"amount": 9999, "customer": "cus_42"}, action="issue_refund")
    assert ran == []
    assert rig.ledger.get_ticket(ticket.id).status == TicketStatus.APPROVED
    assert "execution_refused" in [e.kind for e in rig.ledger.audit_events(ticket_id=ticket.id)]
    assert client.execute(ticket.id, lambda **kw: kw, args=dict(ARGS),
                          action="issue_refund") == ARGS


def test_revalidate_false_fails_closed(rig: Rig, client: ApprovalClient) -> None:
    ticket = _request(client)
    rig.sandbox.click("U0PAYLEAD", action_id=ACTION_APPROVE, channel="C0PAYMENTS")
    settled(rig, ticket.id)
    ran: list[Any] = []
    with pytest.raises(RevalidationFailed):
        client.resume(ticket.id, lambda **kw: ran.append(kw), action="issue_refund",
                      revalidate=lambda a: False)
    assert ran == []
    after = rig.ledger.get_ticket(ticket.id)
    assert after.status == TicketStatus.FAILED and after.outcome is not None
    assert not after.outcome.ok and "revalidation" in (after.outcome.error or "")
    with pytest.raises(ApprovalConsumed):
        client.resume(ticket.id, lambda **kw: ran.append(kw), action="issue_refund")
    assert ran == []


def test_undeliverable_card_is_recorded_and_starts_the_chain(rig: Rig,
                                                             client: ApprovalClient) -> None:
    rig.sandbox.inject_fault("chat.postMessage", times=10, status=503)
    ticket = _request(client)
    assert ticket.card is None and ticket.status == TicketStatus.PENDING
    events = [e for e in rig.ledger.audit_events(ticket_id=ticket.id)]
    assert [e.kind for e in events] == ["created", "delivery_failed"]
    assert ticket.next_action_at is not None and ticket.next_action_at <= rig.ledger.db_now()


def test_rate_limited_card_is_retried_once_posted(rig: Rig, client: ApprovalClient) -> None:
    rig.sandbox.inject_fault("chat.postMessage", times=1, retry_after=1)
    ticket = _request(client)
    assert ticket.card is not None
    calls = rig.sandbox.calls("chat.postMessage")
    assert [c.status for c in calls] == [429, 200]


AGENT = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from bot import ApprovalClient, ApprovalPending, ApprovalConsumed

    client = ApprovalClient.from_env()
    log = Path(sys.argv[2])

    def issue_refund(amount, customer):
        with log.open("a") as f:
            f.write(json.dumps({"amount": amount, "customer": customer}) + "\\n")
        return "refunded"

    gated = client.gate("issue_refund", mode="defer", requested_by="U0REQUESTER")(issue_refund)
    if sys.argv[1] == "propose":
        try:
            gated(amount=120, customer="cus_42", _reason="double charge")
        except ApprovalPending as exc:
            print(json.dumps({"pending": exc.ticket_id}))
    else:
        try:
            print(json.dumps({"result": gated.resume(sys.argv[3])}))
        except ApprovalConsumed as exc:
            print(json.dumps({"consumed": exc.ticket_id}))
""")


def _embedded_env(rig: Rig, db_url: str) -> dict[str, str]:
    return {"SIGNOFF_DATABASE_URL": db_url, "SIGNOFF_CONFIG": str(EXAMPLE),
            "SLACK_BOT_TOKEN": rig.sandbox.bot_token, "SLACK_API_URL": rig.sandbox.api_url}


def _http_env(gate: Gate) -> dict[str, str]:
    """Only the gateway's URL and a token: no database, no Slack token, no config."""
    return {"SIGNOFF_URL": gate.url, "SIGNOFF_AGENT_TOKEN": gate.token,
            "SIGNOFF_DATABASE_URL": "sqlite:////nonexistent/never-opened.db"}


@pytest.mark.parametrize("transport", ["embedded", "http"])
def test_another_process_resumes_after_approval_and_runs_once(rig: Rig, db_url: str,
                                                              tmp_path: Path,
                                                              transport: str) -> None:
    if transport == "http":
        with running_gateway(rig, db_url) as gate:
            _resume_in_another_process(rig, tmp_path, _http_env(gate))
    else:
        _resume_in_another_process(rig, tmp_path, _embedded_env(rig, db_url))


def _resume_in_another_process(rig: Rig, tmp_path: Path, extra: dict[str, str]) -> None:
    script, log = tmp_path / "agent.py", tmp_path / "ran.jsonl"
    script.write_text(AGENT)
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("SIGNOFF_", "SLACK_"))}
    env = {**base, "PYTHONPATH": str(Path(__file__).parents[2]), **extra}

    def agent(*argv: str) -> dict[str, Any]:
        out = subprocess.run([sys.executable, str(script), *argv], env=env, text=True,
                             capture_output=True, timeout=60)
        assert out.returncode == 0, out.stderr
        doc: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
        return doc

    ticket_id = agent("propose", str(log))["pending"]
    assert rig.ledger.get_ticket(ticket_id).card is not None
    rig.sandbox.click("U0PAYLEAD", action_id=ACTION_APPROVE, channel="C0PAYMENTS")
    settled(rig, ticket_id)
    assert agent("resume", str(log), ticket_id) == {"result": "refunded"}
    assert agent("resume", str(log), ticket_id) == {"consumed": ticket_id}
    assert log.read_text().splitlines() == ['{"amount": 120, "customer": "cus_42"}']
    final = rig.ledger.get_ticket(ticket_id)
    assert final.status == TicketStatus.EXECUTED and final.outcome is not None
    thread = rig.sandbox.thread("C0PAYMENTS", rig.card_ts(ticket_id))
    assert any("refunded" in m.text + str(m.blocks) for m in thread)
