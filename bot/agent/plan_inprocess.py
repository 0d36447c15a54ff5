"""Plans in the agent's own process (mixed into :class:`~bot.agent.inprocess.InProcessBackend`):
policy judges every step, the plan's ticket and card, then each step started and reported
through the ledger, the card showing progress as steps run."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.agent.backend import ApprovalRequest, cap_of
from bot.agent.errors import ApprovalDenied
from bot.agent.plan import PlanRequest, plan_args
from bot.render.plan import render_step_result
from escalation.plans import judge_plan
from store.errors import SignoffError
from store.models import PLAN_ACTION, NewTicket, PlanProgress, PlanStep, Ticket, TicketStatus
from store.plans import PlanStore

if TYPE_CHECKING:
    from bot.slack.surfaces import Surfaces
    from escalation.config import SignoffConfig
    from escalation.policy import Policy, PolicyOutcome
    from store.ledger import Ledger

log = logging.getLogger(__name__)


class InProcessPlans:
    if TYPE_CHECKING:
        ledger: Ledger
        config: SignoffConfig
        policy: Policy
        surfaces: Surfaces
        slack: Any

        def _new_ticket(self, outcome: PolicyOutcome, request: ApprovalRequest,
                        created_at: datetime) -> NewTicket: ...

    @property
    def plans(self) -> PlanStore:
        return PlanStore(self.ledger)

    def request_plan(self, request: PlanRequest) -> Ticket:
        """Policy for every step: one denied step denies the plan (recorded, nothing posted);
        else the plan's ticket, on its strictest step's route, and its card."""
        verdict = judge_plan(self.policy, request.steps, requested_by=request.requested_by,
                             confidence=request.confidence)
        outcome = verdict.outcome
        actor = request.agent or request.requested_by
        if verdict.denied_step is not None:
            step = verdict.denied_step
            self.ledger.record_event(None, "denied", actor=actor, action=PLAN_ACTION,
                                     args=request.args, rule=outcome.rule,
                                     reason=outcome.reason, step=step.index + 1,
                                     step_action=step.action,
                                     requested_by=request.requested_by,
                                     policy_version=outcome.policy_version)
            raise ApprovalDenied(step.action, outcome.rule,
                                 f"{outcome.reason or 'policy denies it'} (step "
                                 f"{step.index + 1} of the plan: the whole plan is denied, "
                                 "nothing was posted)",
                                 policy_version=outcome.policy_version)
        as_request = ApprovalRequest(
            action=PLAN_ACTION, args=plan_args(request.steps), reason=request.reason,
            requested_by=request.requested_by, summary=request.summary,
            evidence=request.evidence, confidence=request.confidence, agent=request.agent,
            run_id=request.run_id, idempotency_key=request.idempotency_key)
        limit = self.config.plan_deadline
        deadline = min(request.deadline, limit) if request.deadline else limit
        ticket, created = self.plans.create(
            lambda at: self._new_ticket(outcome, as_request, at), deadline=deadline,
            cap=cap_of(request.agent, request.open_cap))
        if created and ticket.status == TicketStatus.PENDING:
            ticket = self.surfaces.post_card(ticket)
        return ticket

    def plan_progress(self, plan_id: str) -> PlanProgress:
        return self.plans.progress(plan_id)

    def start_step(self, plan_id: str, *, action: str, args: dict[str, Any],
                   actor: str) -> PlanStep:
        step = self.plans.start_step(plan_id, action=action, args=args, actor=actor)
        self._show_plan(plan_id)
        return step

    def finish_step(self, plan_id: str, index: int, *, ok: bool, actor: str,
                    summary: str | None = None, error: str | None = None) -> PlanProgress:
        progress = self.plans.finish_step(plan_id, index, ok=ok, actor=actor,
                                          summary=summary, error=error)
        ticket = self._show_plan(plan_id)
        if ticket is not None and self.slack is not None:
            self.surfaces.reply(ticket, render_step_result(ticket, progress.steps[index]))
        return progress

    def _show_plan(self, plan_id: str) -> Ticket | None:
        """Re-render the plan's card with its progress (best effort: the ledger is the
        record)."""
        if self.slack is None:
            return None
        try:
            ticket = self.ledger.get_ticket(plan_id)
            self.surfaces.refresh(ticket)
            return ticket
        except SignoffError as exc:
            log.warning("plan %s card not refreshed: %s", plan_id, exc)
            return None
