"""Plans for :class:`~bot.agent.aio.AsyncApprovalClient` (mixed in): the same
``request_plan`` / ``plan`` / ``run_step`` as the sync clients, awaited."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from bot.agent import wire
from bot.agent.errors import ActionMismatch, RevalidationFailed
from bot.agent.gate import raise_unless_approved
from bot.agent.plan import checked_plan
from bot.agent.plan_http import plan_body, step_of
from store.models import PLAN_ACTION, Evidence, PlanProgress, Ticket


class AsyncPlans:
    if TYPE_CHECKING:
        _reasons: dict[str, str | None]

        async def _call(self, method: str, path: str, *, body: Any = None,
                        params: Any = None, timeout: float | None = None,
                        ticket_id: str | None = None,
                        action: str | None = None) -> dict[str, Any]: ...

        async def get(self, ticket_id: str) -> Ticket: ...

    async def request_plan(self, steps: Sequence[Mapping[str, Any] | tuple[str, dict[str, Any]]],
                           *, reason: str, requested_by: str, summary: str | None = None,
                           evidence: Sequence[Evidence | dict[str, Any]] = (),
                           confidence: float | None = None, run_id: str | None = None,
                           idempotency_key: str | None = None,
                           deadline: timedelta | float | None = None) -> Ticket:
        """See :meth:`bot.agent.client.ApprovalClient.request_plan`."""
        request = checked_plan(steps, reason=reason, requested_by=requested_by,
                               summary=summary, evidence=evidence, confidence=confidence,
                               run_id=run_id, idempotency_key=idempotency_key,
                               deadline=deadline)
        doc = await self._call("POST", "/v1/plans", body=plan_body(request),
                               action=PLAN_ACTION)
        ticket, why = wire.created(doc)
        self._reasons[ticket.id] = why
        return ticket

    async def plan(self, plan_id: str) -> PlanProgress:
        return PlanProgress.model_validate(
            await self._call("GET", f"/v1/plans/{plan_id}", ticket_id=plan_id))

    async def run_step(self, plan_id: str, tool: Callable[..., Any],
                       args: dict[str, Any] | None = None, *, action: str | None = None,
                       args_model: type[BaseModel] | None = None,
                       revalidate: Callable[[dict[str, Any]], bool] | None = None) -> Any:
        """Run ``tool`` (sync or async; a gated tool brings its action) as the plan's next
        step, once, with its approved arguments."""
        from bot.agent.aio import GATE_INFO

        gated = getattr(tool, GATE_INFO, None)
        if gated is not None:
            if action is not None and action != gated.action:
                raise ActionMismatch(plan_id, gated.action, action)
            tool, action = gated.tool, gated.action
            args_model, revalidate = args_model or gated.args_model, revalidate or gated.revalidate
        if action is None:
            raise ActionMismatch(plan_id, "a step's action", None)
        plan = await self.get(plan_id)
        raise_unless_approved(plan, lambda _k: self._reasons.get(plan_id))
        claimed = await self._call("POST", f"/v1/plans/{plan_id}/steps",
                                   body={"action": action, "args": args},
                                   ticket_id=plan_id, action=action)
        step = step_of(claimed)
        token = wire.RECEIPT.set(claimed["receipt"])  # current_receipt() for the step's tool
        try:
            wire.check(plan, step.args, args_model, None)
            if revalidate is not None and not revalidate(dict(step.args)):
                raise RevalidationFailed(plan, f"step {step.index + 1} ({action})")
            result = tool(**step.args)
            if inspect.isawaitable(result):
                result = await result
        except BaseException as exc:
            await self._report_step(plan_id, step.index, ok=False,
                                    error=f"{type(exc).__name__}: {exc}"[:2000])
            raise
        finally:
            wire.RECEIPT.reset(token)
        await self._report_step(plan_id, step.index, ok=True, summary=wire.summary(result))
        return result

    async def _report_step(self, plan_id: str, index: int, *, ok: bool,
                           summary: str | None = None, error: str | None = None) -> None:
        await self._call("POST", f"/v1/plans/{plan_id}/steps/{index}/outcome",
                         body={"ok": ok, "summary": summary, "error": error},
                         ticket_id=plan_id)
