"""The :class:`~bot.agent.backend.ApprovalBackend` in the agent's own process: policy from the
config, tickets in the ledger, cards and thread replies through the bot's Slack surfaces."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from slack_sdk import WebClient

from bot.agent.backend import ApprovalRequest, cap_of
from bot.agent.door import checked
from bot.agent.errors import ApprovalDenied
from bot.agent.grant_use import GrantUse
from bot.agent.plan_inprocess import InProcessPlans
from bot.agent.wakeups import Wakeups
from bot.render import render_execution_result, render_info_answer
from bot.slack.breakglass import offers
from bot.slack.fallback import OutOfOffice
from bot.slack.surfaces import Surfaces
from escalation.batching import rule_batch
from escalation.config import SignoffConfig
from escalation.deadlines import deadlines
from escalation.policy import Policy, PolicyOutcome, Proposal, with_annotations
from escalation.shadow import ShadowPolicy
from store.errors import SignoffError
from store.ledger import Ledger
from store.models import DecisionKind, Evidence, NewTicket, Ticket, TicketStatus
from store.policies import apply_policy

log = logging.getLogger(__name__)
_FAST_POLL_FOR_S = 600.0  # poll quickly for the first ten minutes, then back off


class InProcessBackend(InProcessPlans):
    """Thread-safe; holds the ledger, the config and (optionally) a Slack client."""

    def __init__(self, ledger: Ledger, config: SignoffConfig, *, slack: WebClient | None = None,
                 poll_interval: float = 0.02, max_poll_interval: float = 1.0) -> None:
        self.ledger = ledger
        self.config = config
        self.slack = slack
        self.policy = Policy(config)
        self.rules = dict(zip(config.policy.rule_names(), config.policy.rules, strict=True))
        self.shadow = ShadowPolicy.of(config)
        # The rules every ticket's policy_version names are kept in the ledger.
        apply_policy(ledger, config.policy_version, config.policy.model_dump(mode="json"))
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval
        # The same card and thread updates the bot makes (DM copies included).
        self.surfaces = Surfaces(slack, ledger, break_glass=offers(config))
        self.grants = GrantUse(ledger, config, slack)
        self.wakeups = Wakeups(ledger.engine.url)

    def close(self) -> None:
        self.wakeups.close()
        self.ledger.close()

    # -- Detect and Escalate ----------------------------------------------------------------

    def evaluate(self, action: str, args: dict[str, Any], *, requested_by: str,
                 confidence: float | None,
                 annotations: dict[str, Any] | None = None) -> PolicyOutcome:
        return self.policy.evaluate(Proposal(action=action, args=args,
                                             requested_by=requested_by, confidence=confidence,
                                             annotations=annotations or {}))

    def request(self, request: ApprovalRequest) -> Ticket:
        return self.request_claimed(request, claim_as=None)[0]

    def request_claimed(self, request: ApprovalRequest, *,
                        claim_as: str | None) -> tuple[Ticket, bool]:
        """:meth:`request`, and when policy allows it and the ticket is new, its execution
        claimed by ``claim_as`` in the same transaction: ``(ticket, claimed)``. A caller that
        runs allowed calls at once (the MCP proxy) saves the claim's own transaction."""
        request = checked(request)  # whoever calls, nothing unchecked reaches the ledger
        outcome = self.evaluate(request.action, request.args, requested_by=request.requested_by,
                                confidence=request.confidence,
                                annotations=request.annotations)
        if outcome.decision == "deny":
            self.ledger.record_event(None, "denied", actor=request.agent or request.requested_by,
                                     action=request.action, args=request.args, rule=outcome.rule,
                                     reason=outcome.reason, requested_by=request.requested_by,
                                     policy_version=outcome.policy_version)
            self._shadow(request, outcome, None)
            raise ApprovalDenied(request.action, outcome.rule, outcome.reason,
                                 policy_version=outcome.policy_version)
        if outcome.decision == "require_approval":
            granted = self.grants.approve(
                request, outcome, lambda at: self._new_ticket(outcome, request, at))
            if granted is not None:  # a standing grant covers it: no card, nothing claimed
                self._shadow(request, outcome, granted.id)
                return granted, False
        ticket, created = self.ledger.create_ticket(
            lambda created_at: self._new_ticket(outcome, request, created_at),
            claim_as=claim_as, lease=self.config.execution_lease,
            cap=cap_of(request.agent, request.open_cap))
        if created:
            self._shadow(request, outcome, ticket.id)
        if created and ticket.status == TicketStatus.PENDING:
            batched = None if ticket.route.fallback else self.surfaces.batch_cards.submit(
                ticket, rule_batch(self.rules, ticket.policy_rule))
            ticket = batched or self.surfaces.post_card(ticket)
            if ticket.route.fallback and self.slack is not None:
                # Every approver away (delegated, deactivated): the fallback gets it now.
                OutOfOffice(self.slack, self.ledger, lambda: self.config).fallback(ticket)
        claimed = created and claim_as is not None and ticket.status == TicketStatus.EXECUTING
        return ticket, claimed

    def _shadow(self, request: ApprovalRequest, outcome: PolicyOutcome,
                ticket_id: str | None) -> None:
        """Record where the candidate policy would have decided otherwise. It decides
        nothing, so a failure here is logged and never reaches the request."""
        if self.shadow is None:
            return
        proposal = Proposal(action=request.action, args=request.args,
                            requested_by=request.requested_by, confidence=request.confidence,
                            annotations=request.annotations)
        try:
            found = self.shadow.disagreement(proposal, outcome)
            if found is not None:
                self.ledger.record_event(ticket_id, "shadow_disagreement", actor="policy",
                                         ticket=ticket_id, **found)
        except SignoffError as exc:
            log.warning("shadow policy not recorded for %s: %s", request.action, exc)

    def _new_ticket(self, outcome: PolicyOutcome, request: ApprovalRequest,
                    created_at: datetime) -> NewTicket:
        """The ticket, its deadlines planned from ``created_at`` (the database's clock, read
        by ``create_ticket`` in the transaction that creates it)."""
        allowed = outcome.decision == "allow"
        route = outcome.route or self.config.route()
        fixed = None if allowed else deadlines(self.config, outcome.chain, created_at=created_at,
                                              expire_after=outcome.expire_after)
        return NewTicket(
            action=request.action, args=request.args, review_type=outcome.review,
            summary=request.summary, reason=request.reason, evidence=request.evidence,
            confidence=request.confidence, requested_by=request.requested_by,
            agent=request.agent, run_id=request.run_id,
            idempotency_key=request.idempotency_key, tier=outcome.tier, route=route,
            policy_version=outcome.policy_version, policy_rule=outcome.rule,
            status=TicketStatus.APPROVED if allowed else TicketStatus.PENDING,
            expires_at=fixed.expires_at if fixed else created_at,
            next_action_at=fixed.next_action_at if fixed else None,
            escalation=fixed.snapshot if fixed else None,
            args_schema=with_annotations(request.args_schema, request.annotations),
        )

    # -- Resume -------------------------------------------------------------------------

    def get(self, ticket_id: str) -> Ticket:
        return self.ledger.get_ticket(ticket_id, for_agent=True)

    def wait(self, ticket_id: str, timeout: float | None) -> Ticket:
        """Woken by the ticket's change (see :mod:`bot.agent.wakeups`); reads it on a timer
        only where changes cannot reach this process (SQLite, another process) or as a
        safety net."""
        start = time.monotonic()
        interval = self.poll_interval
        with self.wakeups.watching(ticket_id) as changed:
            while True:
                changed.clear()
                status, _version = self.ledger.status_of(ticket_id, for_agent=True)
                if status != TicketStatus.PENDING:
                    return self.ledger.get_ticket(ticket_id, for_agent=True)
                waited = time.monotonic() - start
                if timeout is not None and waited >= timeout:
                    return self.ledger.get_ticket(ticket_id, for_agent=True)
                if waited > _FAST_POLL_FOR_S:
                    interval = min(interval * 2, self.max_poll_interval)
                pause = self.max_poll_interval if self.wakeups.pushed else interval
                changed.wait(pause if timeout is None
                             else min(pause, max(timeout - waited, 0.0)))

    def last_reason(self, ticket_id: str, kind: DecisionKind) -> str | None:
        reasons = [d.reason for d in self.ledger.decisions(ticket_id) if d.kind == kind]
        return reasons[-1] if reasons else None

    def cancel(self, ticket_id: str, reason: str, *, actor: str) -> Ticket:
        ticket = self.ledger.cancel(ticket_id, actor=actor, reason=reason)
        self.refresh_card(ticket)
        return ticket

    def answer(self, ticket_id: str, text: str, *, evidence: Sequence[Evidence],
               actor: str) -> Ticket:
        ticket = self.ledger.answer_info(ticket_id, actor=actor, text=text,
                                         evidence=list(evidence))
        self.thread_reply(ticket, "answer", text=text)
        self.refresh_card(ticket)
        return ticket

    # -- Enforce --------------------------------------------------------------------------

    def start_execution(self, ticket_id: str, *, action: str, args: dict[str, Any],
                        actor: str) -> Ticket:
        return self.ledger.start_execution(ticket_id, action=action, args=args, actor=actor,
                                           lease=self.config.execution_lease)

    def finish_execution(self, ticket_id: str, *, ok: bool, actor: str,
                         summary: str | None = None, error: str | None = None) -> Ticket:
        done = self.ledger.finish_execution(ticket_id, ok=ok, actor=actor, summary=summary,
                                            error=error)
        self.thread_reply(done, "execution")
        self.refresh_card(done)
        return done

    # -- Slack side effects, best effort: the ledger is the record --------------------------

    def refresh_card(self, ticket: Ticket) -> None:
        if self.slack is not None:
            self.surfaces.refresh(ticket)

    def thread_reply(self, ticket: Ticket, kind: str, text: str = "") -> None:
        if self.slack is None:
            return
        message = (render_execution_result(ticket) if kind == "execution"
                   else render_info_answer(ticket, text))
        self.surfaces.reply(ticket, message)
