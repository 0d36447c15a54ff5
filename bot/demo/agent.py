"""The demo agent: a support bot that proposes a mix of actions through the real
``ApprovalClient`` and executes what reviewers approve, through the gate.

Each proposal runs in its own thread, as an agent with several tasks in flight would: read-only
calls run at once, risky ones wait for reviewers, a denied one never runs. What happens is
printed and posted to ``#agent-log``; execution results also land in each card's thread.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.agent.client import ApprovalClient
from bot.agent.errors import (
    ApprovalDenied,
    ApprovalError,
    ApprovalExpired,
    ApprovalRejected,
    ApprovalTakenOver,
)
from bot.demo.config import AGENT_LOG, REQUESTER
from store.models import Decision, DecisionKind, ReviewType, Ticket, TicketStatus
from store.tickets import SYSTEM_ACTOR

log = logging.getLogger(__name__)
AGENT = "support-agent"
Say = Callable[[str], None]


class RefundArgs(BaseModel):
    amount: int = Field(ge=1, le=5000, description="In whole units of the currency")
    currency: Literal["EUR", "USD", "GBP"] = "EUR"
    customer: str = Field(pattern=r"^cus_[a-z0-9]+$")
    notify_customer: bool = True
    note: str | None = None


class EmailArgs(BaseModel):
    to: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    subject: str = Field(min_length=1, max_length=150)
    body: str = Field(min_length=1, max_length=3000, json_schema_extra={"multiline": True})
    send_at: datetime | None = None


class MergeArgs(BaseModel):
    keep: str = Field(pattern=r"^cus_[a-z0-9]+$")
    merge: str = Field(pattern=r"^cus_[a-z0-9]+$")


@dataclass(frozen=True)
class Proposal:
    """One thing the agent wants to do, and what it tells the reviewer about it."""

    action: str
    args: dict[str, Any]
    reason: str
    summary: str | None = None
    model: type[BaseModel] | None = None
    confidence: float | None = None
    evidence: tuple[dict[str, str], ...] = ()
    answer: str = "I checked the order history: the charge appears twice on the same day."


PROPOSALS: tuple[Proposal, ...] = (
    Proposal("search_orders", {"customer": "cus_ada"}, "find the order the customer wrote about"),
    Proposal("get_customer", {"customer": "cus_ada"}, "read the customer's contact details"),
    Proposal("issue_refund", {"amount": 120, "currency": "EUR", "customer": "cus_ada",
                              "notify_customer": True, "note": "double charge on order 1042"},
             "The customer was charged twice for order 1042.",
             summary="Refund EUR 120 to cus_ada", model=RefundArgs,
             evidence=({"title": "Payment log: two captures of EUR 120",
                        "url": "https://payments.example.com/orders/1042"},)),
    Proposal("issue_refund", {"amount": 2400, "currency": "EUR", "customer": "cus_bram",
                              "notify_customer": False, "note": "annual plan cancelled"},
             "The customer cancelled an annual plan inside the 14-day window.",
             summary="Refund EUR 2,400 to cus_bram", model=RefundArgs,
             evidence=({"title": "Cancellation ticket #5521"},),
             answer="The plan was cancelled on day 9 of the 14-day window; usage was zero."),
    Proposal("send_email", {"to": "ada@example.com", "subject": "Your refund for order 1042",
                            "body": "Hi Ada,\n\nWe are sorry: you were charged twice for order "
                                    "1042. The extra EUR 120 is on its way back to your card "
                                    "and should arrive within 5 business days.\n\nBest,\nSupport"},
             "Tell the customer about the refund.", summary="Email ada@example.com",
             model=EmailArgs, answer="Ada asked for an update by email this morning."),
    Proposal("merge_customer_accounts", {"keep": "cus_cleo", "merge": "cus_cleo2"},
             "Two accounts share an email address; they may be one person, or a shared "
             "family inbox.", summary="Merge two customer accounts?", model=MergeArgs,
             confidence=0.35,
             evidence=({"title": "Matched on email address and billing address: 1 of 2 agree"},
                       {"title": "Looked for a shared family plan: none on file"}),
             answer="Both accounts were opened from the same device, a week apart."),
    Proposal("drop_database", {"name": "orders_staging"}, "free disk space on staging"),
)
# Small goodwill refunds for a late delivery: policy batches them onto one card.
SMALL_REFUNDS: tuple[Proposal, ...] = tuple(
    Proposal("issue_refund", {"amount": amount, "currency": "EUR", "customer": customer,
                              "notify_customer": True, "note": "late delivery, batch 77"},
             "Delivery batch 77 arrived three days late; goodwill refund per policy.",
             summary="Goodwill refunds for late delivery batch 77", model=RefundArgs)
    for amount, customer in ((15, "cus_dina"), (25, "cus_eli"), (20, "cus_finn"),
                             (40, "cus_gus")))
PROPOSALS += SMALL_REFUNDS


def _tool(action: str) -> Callable[..., Any]:
    def run(**args: Any) -> dict[str, Any]:
        return {"ok": True, "action": action, **_result_of(action, args)}

    run.__name__ = action
    return run


def _result_of(action: str, args: dict[str, Any]) -> dict[str, Any]:
    if action == "issue_refund":
        return {"refund_id": "re_demo_" + str(args["customer"])[4:], "amount": args["amount"]}
    if action == "send_email":
        return {"message_id": "msg_demo_1", "to": args["to"]}
    if action == "search_orders":
        return {"orders": ["1042", "1043"]}
    return {"done": sorted(args)}


@dataclass
class DemoAgent:
    """Runs every proposal in its own daemon thread until ``stop()``.

    A proposal that needed a reviewer is made again ``again_after`` seconds after it ended
    (approved, rejected, expired...), as a support agent keeps working its queue: someone who
    comes back to the demo later still finds requests waiting. None: each proposal once."""

    client: ApprovalClient
    slack: WebClient | None = None
    say: Say = print
    proposals: tuple[Proposal, ...] = PROPOSALS
    again_after: float | None = None
    #: What reviewers wrote when they asked a question or gave guidance (the ledger's
    #: decisions): the agent answers what was said, not a line of its own.
    decisions: Callable[[str], list[Decision]] | None = None
    stopping: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    tickets: list[str] = field(default_factory=list)

    def start(self) -> DemoAgent:
        for number, proposal in enumerate(self.proposals):
            thread = threading.Thread(target=self._run, args=(proposal,), daemon=True,
                                      name=f"demo-agent-{number}")
            self.threads.append(thread)
            thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout)

    def _run(self, proposal: Proposal) -> None:
        while not self.stopping.is_set():
            reviewed = self._run_once(proposal)
            if not reviewed or self.again_after is None:
                return
            if self.stopping.wait(self.again_after):
                return

    def _run_once(self, proposal: Proposal) -> bool:
        """Make the proposal and see it through; True when a reviewer had to decide."""
        try:
            return self._propose(proposal)
        except ApprovalDenied as exc:
            self.report(f":no_entry: `{proposal.action}` was denied by policy "
                        f"({exc.reason or exc.rule}); it never ran.")
            return False
        except ApprovalRejected as exc:
            who = f"<@{exc.reviewer}>" if exc.reviewer else "a reviewer"
            self.report(f":leftwards_arrow_with_hook: `{proposal.action}` was rejected by {who}: "
                        f"_{exc.reason or 'no reason'}_. The agent re-plans without it.")
        except ApprovalTakenOver:
            self.report(f":raising_hand: a human took over `{proposal.action}`; "
                        "the agent stops working on it.")
        except ApprovalExpired:
            self.report(f":alarm_clock: nobody decided on `{proposal.action}` in time; "
                        "it expired, which is a denial. Nothing ran.")
        except ApprovalError as exc:
            self.report(f":warning: `{proposal.action}` did not run: {exc}")
            return False
        except Exception:  # one failed proposal must not stop the demo
            log.exception("demo proposal %s failed", proposal.action)
            return False
        return True  # rejected, taken over or expired: a reviewer's request all the same

    def _propose(self, proposal: Proposal) -> bool:
        ticket = self.client.request(
            proposal.action, proposal.args, reason=proposal.reason, requested_by=REQUESTER.id,
            summary=proposal.summary, evidence=proposal.evidence, confidence=proposal.confidence,
            agent=AGENT, args_model=proposal.model)
        self.tickets.append(ticket.id)
        # Reviewed unless policy allowed it (approved by signoff itself); a quick reviewer
        # may have decided already.
        reviewed = (ticket.status != TicketStatus.APPROVED
                    or ticket.decided_by not in (None, SYSTEM_ACTOR))
        if reviewed:
            self.report(f":hourglass: `{proposal.action}` is waiting for review "
                        f"(ticket `{ticket.id}`, {ticket.tier.value} tier).")
            decided = self._await_decision(ticket, proposal)
            if decided is None:
                return False
            ticket = decided
        result = self.client.execute(ticket.id, _tool(proposal.action), action=proposal.action,
                                     args_model=proposal.model)
        how = "was approved and ran" if reviewed else "ran without review (policy: allow)"
        self.report(f":white_check_mark: `{proposal.action}` {how}: `{result}`")
        return reviewed

    def _await_decision(self, ticket: Ticket, proposal: Proposal) -> Ticket | None:
        """Wait for reviewers, answering their questions; None when the demo stops."""
        while not self.stopping.is_set():
            ticket = self.client.wait(ticket.id, timeout=0.5)
            if ticket.status == TicketStatus.NEEDS_INFO:
                self._reply(ticket, proposal)
            elif ticket.status != TicketStatus.PENDING:
                return ticket
        return None

    def _reply(self, ticket: Ticket, proposal: Proposal) -> None:
        """Answer a question; take guidance as guidance (on an escalation review, where
        the agent asked for a human, that is what the reviewer's words are)."""
        said = self._last_request(ticket.id)
        if ticket.review_type == ReviewType.ESCALATION and said:
            self.client.answer(ticket.id, f"Understood. I will follow your guidance: {said}",
                               actor=AGENT)
            self.report(f":compass: took a reviewer's guidance on `{ticket.id}`: _{said}_")
            return
        self.client.answer(ticket.id, proposal.answer, actor=AGENT)
        self.report(f":speech_balloon: answered a reviewer's question on `{ticket.id}`.")

    def _last_request(self, ticket_id: str) -> str | None:
        if self.decisions is None:
            return None
        asked = [d for d in self.decisions(ticket_id) if d.kind == DecisionKind.REQUEST_INFO]
        return asked[-1].reason if asked else None

    def report(self, text: str) -> None:
        self.say("agent: " + re.sub(r":[a-z_]+: ", "", text))
        if self.slack is None:
            return
        try:
            self.slack.chat_postMessage(channel=AGENT_LOG, text=text)
        except (SlackApiError, SlackClientError, OSError) as exc:
            log.warning("agent log not posted: %s", exc)
