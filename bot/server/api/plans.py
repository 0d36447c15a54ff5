"""``/v1/plans``: plan-level approval for agents holding a token (the rules live in
:class:`PlanGateway`; the routes only translate HTTP)."""

# No "from __future__ import annotations": FastAPI reads these annotations at run time.

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Response

from bot import receipts
from bot.agent.errors import ApprovalDenied
from bot.agent.plan import checked_plan
from bot.server.api.calls import TokenDep, answer
from bot.server.api.errors import RESPONSES, too_many_pending
from bot.server.api.gateway import Gateway
from bot.server.api.models import DeniedOut, OutcomeIn, TicketOut
from bot.server.api.plan_models import PlanIn, PlanOut, StepClaimIn, StepOut
from store.agents import Agent
from store.errors import OpenRequestsCapped
from store.models import args_hash


@dataclass
class PlanGateway:
    gw: Gateway

    def request(self, agent: Agent, body: PlanIn) -> TicketOut | DeniedOut:
        for step in body.steps:  # every step must be inside the token's scope
            self.gw.in_scope(agent, step.action)
        key = f"{agent.name}:{body.idempotency_key}" if body.idempotency_key else None
        request = checked_plan(
            [s.model_dump() for s in body.steps], reason=body.reason,
            requested_by=body.requested_by, summary=body.summary, evidence=body.evidence,
            confidence=body.confidence, agent=agent.name, run_id=body.run_id,
            idempotency_key=key,
            deadline=timedelta(seconds=body.deadline_s) if body.deadline_s else None)
        try:
            ticket = self.gw.backend.request_plan(replace(request, open_cap=agent.max_pending))
        except ApprovalDenied as exc:
            return DeniedOut(action=exc.action, rule=exc.rule, reason=exc.reason,
                             policy_version=exc.policy_version)
        except OpenRequestsCapped as exc:
            raise too_many_pending(exc) from None
        return self.gw.out(agent, ticket)

    def progress(self, agent: Agent, plan_id: str) -> PlanOut:
        self.gw.owned(agent, plan_id)
        return PlanOut(**self.gw.backend.plan_progress(plan_id).model_dump())

    def claim(self, agent: Agent, plan_id: str, body: StepClaimIn) -> StepOut:
        """Start the next step once; its exact arguments and a receipt naming the step's
        action and arguments (what the tool service verifies, as for any approval)."""
        plan = self.gw.owned(agent, plan_id)
        args = body.args
        if args is None:
            args = self.gw.backend.plan_progress(plan_id).args_for(body.action)
        key = self.gw.signer()  # before the step starts: an unusable key starts nothing
        step = self.gw.backend.start_step(plan_id, action=body.action, args=args,
                                          actor=agent.name)
        digest = args_hash(step.args)
        now = datetime.now(UTC)
        as_approved = plan.model_copy(update={"action": step.action, "final_args": step.args,
                                              "final_args_hash": digest})
        token = receipts.sign(as_approved, key, agent=agent.name, now=now,
                              ttl=self.gw.receipt_ttl)
        return StepOut(index=step.index, action=step.action, args=step.args,
                       args_sha256=digest, receipt=token,
                       receipt_expires_at=now + self.gw.receipt_ttl)

    def outcome(self, agent: Agent, plan_id: str, index: int, body: OutcomeIn) -> PlanOut:
        self.gw.owned(agent, plan_id)
        done = self.gw.backend.finish_step(plan_id, index, ok=body.ok, actor=agent.name,
                                           summary=body.summary, error=body.error)
        return PlanOut(**done.model_dump())


def plan_routes(gw: Gateway) -> APIRouter:
    plans = PlanGateway(gw)
    router = APIRouter(prefix="/v1", responses=RESPONSES, tags=["plans"])

    @router.post("/plans", response_model=TicketOut | DeniedOut,
                 summary="Ask for one approval of a short plan (policy per step, one card)")
    async def create_plan(body: PlanIn, token: TokenDep) -> Response:
        return await answer(gw, token, plans.request, body)

    @router.get("/plans/{plan_id}", response_model=PlanOut,
                summary="Where the plan stands: each step's state")
    async def get_plan(plan_id: str, token: TokenDep) -> Response:
        return await answer(gw, token, plans.progress, plan_id)

    @router.post("/plans/{plan_id}/steps", response_model=StepOut,
                 summary="Start the plan's next step, once (refused unless it is exactly it)")
    async def claim_step(plan_id: str, body: StepClaimIn, token: TokenDep) -> Response:
        return await answer(gw, token, plans.claim, plan_id, body)

    @router.post("/plans/{plan_id}/steps/{index}/outcome", response_model=PlanOut,
                 summary="Report how a started step ended")
    async def step_outcome(plan_id: str, index: int, body: OutcomeIn,
                           token: TokenDep) -> Response:
        return await answer(gw, token, plans.outcome, plan_id, index, body)

    return router
