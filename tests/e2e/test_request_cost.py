"""``ApprovalClient.request()`` against the local Slack-compatible server: two write
transactions (the ticket, then its card), deadlines measured from the ticket's own
creation time, and a returned ticket that is exactly the stored one."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel, Field, SecretStr
from sqlalchemy import Connection, event

from bot.agent.client import ApprovalClient
from escalation.deadlines import deadlines
from store.db import WRITE_OPTION
from store.ledger import Ledger
from store.models import TicketStatus
from tests.e2e.conftest import Rig


class RefundArgs(BaseModel):
    amount: int = Field(ge=1, le=100_000)
    customer: str
    token: SecretStr | None = None


@pytest.fixture
def agent(rig: Rig, db_url: str) -> Iterator[tuple[ApprovalClient, list[str]]]:
    """A client on its own engine, and the transactions it begins ("read" or "write")."""
    ledger = Ledger.open(db_url)
    begun: list[str] = []

    @event.listens_for(ledger.engine, "begin")
    def _begun(conn: Connection) -> None:
        begun.append("write" if conn.get_execution_options().get(WRITE_OPTION) else "read")

    try:
        client = ApprovalClient(ledger, rig.config, slack=rig.client.slack)
        begun.clear()  # starting up records the policy version once; requests are counted
        yield client, begun
    finally:
        ledger.close()


def _request(client: ApprovalClient, action: str = "issue_refund", **kw: Any) -> Any:
    return client.request(action, {"amount": 120, "customer": "cus_42"}, reason="r",
                          requested_by="U0REQUESTER", **kw)


def test_a_reviewed_request_is_two_transactions(agent: tuple[ApprovalClient, list[str]],
                                                rig: Rig) -> None:
    client, begun = agent
    ticket = _request(client)
    # One read for the standing grants that might cover it (none here); the ticket and its
    # audit event; the card, ditto.
    assert begun == ["read", "write", "write"]
    assert ticket.status == TicketStatus.PENDING and ticket.card is not None
    assert rig.ledger.get_ticket(ticket.id) == ticket
    plan = deadlines(rig.config, "payments-oncall", created_at=ticket.created_at,
                     expire_after=None)
    assert (ticket.expires_at, ticket.next_action_at, ticket.escalation) == (
        plan.expires_at, plan.next_action_at, plan.snapshot)
    assert [e.kind for e in rig.ledger.audit_events(ticket_id=ticket.id)] == [
        "created", "posted"]


def test_an_allowed_request_is_one_transaction(agent: tuple[ApprovalClient, list[str]],
                                               rig: Rig) -> None:
    client, begun = agent
    ticket = _request(client, "search_orders")
    assert begun == ["write"]
    assert ticket.status == TicketStatus.APPROVED and ticket.expires_at == ticket.created_at
    assert rig.ledger.get_ticket(ticket.id) == ticket


def test_each_ticket_gets_its_own_copy_of_the_args_schema(
        agent: tuple[ApprovalClient, list[str]], rig: Rig) -> None:
    client, _ = agent
    first = _request(client, args_model=RefundArgs)
    assert first.args_schema == RefundArgs.model_json_schema()
    assert first.args_schema is not None
    first.args_schema["properties"].clear()  # a caller scribbling on what it was handed
    second = _request(client, args_model=RefundArgs)
    assert second.args_schema == RefundArgs.model_json_schema()
    assert rig.ledger.get_ticket(second.id).args_schema == RefundArgs.model_json_schema()


def test_a_gated_call_does_not_read_again_the_ticket_it_holds(
        agent: tuple[ApprovalClient, list[str]], rig: Rig) -> None:
    client, begun = agent
    ran = client.call(lambda q: f"found {q}", {"q": "cus_42"}, action="search_orders",
                      reason="lookup", requested_by="U0REQUESTER")
    assert ran == "found cus_42"
    # create; start and finish the execution. Reading the ticket back between the create
    # and the start would be a read transaction (refreshing the surfaces may read decisions).
    assert begun.count("write") == 3 and begun.count("read") <= 1
    (ticket,) = rig.ledger.list_tickets()
    assert ticket.status == TicketStatus.EXECUTED and ticket.outcome is not None
