"""The agent-side client reaches signoff only through ``ApprovalBackend``: a backend that is
not the in-process one (here, one that hands each call on and counts it) runs the whole gate,
so an implementation over HTTP can stand beside the in-process one without touching it."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from bot import ApprovalClient, ApprovalDenied, ApprovalRejected
from bot.agent.backend import ApprovalBackend
from bot.agent.inprocess import InProcessBackend
from escalation.config import load_config
from store.ledger import Ledger
from store.models import DecisionKind, TicketStatus

EXAMPLE = Path(__file__).parents[1] / "fixtures" / "signoff.example.yml"


class Relay:
    """An ApprovalBackend that is not in process: it hands every call to another backend."""

    def __init__(self, inner: ApprovalBackend) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)
        self.calls[name] += 1
        return method


@pytest.fixture
def relay(ledger: Ledger) -> Relay:
    return Relay(InProcessBackend(ledger, load_config(EXAMPLE)))


def test_the_gate_runs_an_allowed_tool_through_any_backend(relay: Relay) -> None:
    client = ApprovalClient(backend=relay)  # type: ignore[arg-type]
    ran: list[str] = []

    @client.gate("search_orders", requested_by="U0REQUESTER")
    def search_orders(query: str) -> str:
        ran.append(query)
        return f"found {query}"

    assert search_orders(query="cus_42") == "found cus_42" and ran == ["cus_42"]
    assert set(relay.calls) == {"request", "start_execution", "finish_execution"}


def test_waiting_rejections_and_denials_come_through_the_backend(
        relay: Relay, ledger: Ledger) -> None:
    client = ApprovalClient(backend=relay)  # type: ignore[arg-type]
    with pytest.raises(ApprovalDenied):
        client.request("drop_database", {}, reason="cleanup", requested_by="U0REQUESTER")
    ticket = client.request("issue_refund", {"amount": 5}, reason="double charge",
                            requested_by="U0REQUESTER")
    assert ticket.status == TicketStatus.PENDING
    assert client.wait(ticket.id, timeout=0.05).status == TicketStatus.PENDING
    ledger.record_decision(ticket.id, reviewer="U0PAYLEAD", kind=DecisionKind.REJECT,
                           reason="wrong customer")
    with pytest.raises(ApprovalRejected, match="wrong customer"):
        client.execute(ticket.id, lambda **_: None, action="issue_refund")
    assert {"request", "wait", "get", "last_reason"} <= set(relay.calls)
    assert ledger.get_ticket(ticket.id).status == TicketStatus.REJECTED  # nothing ran


def test_what_only_the_in_process_backend_has_is_refused_plainly(relay: Relay) -> None:
    client = ApprovalClient(backend=relay)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Relay, not in process"):
        _ = client.ledger
    with pytest.raises(TypeError, match="a ledger and a config, or a backend"):
        ApprovalClient()


@pytest.mark.parametrize("agent, cap", [("loop-bot", 0), (None, 3)])
def test_a_cap_of_open_requests_needs_an_agent_and_a_positive_limit(agent: str | None,
                                                                     cap: int) -> None:
    from bot.agent.backend import ApprovalRequest
    from bot.agent.door import checked
    from bot.agent.errors import InvalidRequest

    request = ApprovalRequest(action="issue_refund", args={"amount": 1}, reason="r",
                              requested_by="U0REQUESTER", agent=agent, open_cap=cap)
    with pytest.raises(InvalidRequest, match="open_cap"):
        checked(request)
    fine = checked(ApprovalRequest(action="issue_refund", args={"amount": 1}, reason="r",
                                   requested_by="U0REQUESTER", agent="loop-bot", open_cap=2))
    assert fine.open_cap == 2
