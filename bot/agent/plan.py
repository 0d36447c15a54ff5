"""Plans on the agent's side: ask once for a short list of steps, then run them in order.

    plan = client.request_plan(steps=[
        {"action": "pause_subscription", "args": {"customer": "cus_42"}},
        {"action": "issue_refund", "args": {"amount": 120, "customer": "cus_42"}},
    ], reason="double charge, then stop billing", requested_by="U0ALICE")
    client.wait(plan.id)
    client.run_step(plan.id, pause_subscription)     # a GatedTool, or action="..."
    client.run_step(plan.id, issue_refund)

Each step runs once, in the approved order, with exactly the approved arguments (a
reviewer's edit where there is one). Anything else (other arguments, another action, a step
out of order, after a stop or the deadline) raises :class:`PlanStepRefused` and runs nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel

from bot.agent import arguments
from bot.agent.door import checked_args, checked_evidence, checked_request
from bot.agent.errors import ActionMismatch, InvalidRequest, RevalidationFailed
from bot.agent.gate import GatedTool, raise_unless_approved
from store.models import PLAN_ACTION, Evidence, PlanProgress, PlanStep, Ticket

T = TypeVar("T")
MAX_STEPS = 20
"""A plan is short: a reviewer reads every step on one card."""


@dataclass(frozen=True)
class PlanRequest:
    """A plan as the agent asks for it (checked: steps plain JSON, fields valid)."""

    steps: tuple[PlanStep, ...]
    reason: str
    requested_by: str
    summary: str | None = None
    evidence: tuple[Evidence, ...] = ()
    confidence: float | None = None
    agent: str | None = None
    run_id: str | None = None
    idempotency_key: str | None = None
    deadline: timedelta | None = None
    open_cap: int | None = None
    """As for :class:`ApprovalRequest`: the plan counts as one open request."""

    @property
    def args(self) -> dict[str, Any]:
        """The plan ticket's arguments: what reviewers approve, bound by hash."""
        return plan_args(self.steps)


def plan_args(steps: Sequence[PlanStep]) -> dict[str, Any]:
    return {"steps": [{"action": s.action, "args": s.args} for s in steps]}


@runtime_checkable
class PlanBackend(Protocol):
    """What plans need of a backend (the in-process one and the HTTP one have it)."""

    def request_plan(self, request: PlanRequest) -> Ticket: ...
    def plan_progress(self, plan_id: str) -> PlanProgress: ...
    def start_step(self, plan_id: str, *, action: str, args: dict[str, Any],
                   actor: str) -> PlanStep: ...
    def finish_step(self, plan_id: str, index: int, *, ok: bool, actor: str,
                    summary: str | None = None, error: str | None = None) -> PlanProgress: ...
    def get(self, ticket_id: str) -> Ticket: ...
    def last_reason(self, ticket_id: str, kind: Any) -> str | None: ...


def checked_plan(steps: Sequence[Mapping[str, Any] | tuple[str, dict[str, Any]]], *,
                 reason: str, requested_by: str, summary: str | None = None,
                 evidence: Sequence[Evidence | dict[str, Any]] = (),
                 confidence: float | None = None, agent: str | None = None,
                 run_id: str | None = None, idempotency_key: str | None = None,
                 deadline: timedelta | float | None = None) -> PlanRequest:
    """The plan checked at the door, like a request: :class:`InvalidRequest` otherwise."""
    fields = checked_request(PLAN_ACTION, reason=reason, requested_by=requested_by,
                             summary=summary, confidence=confidence, agent=agent,
                             run_id=run_id, idempotency_key=idempotency_key)
    if isinstance(steps, str | bytes | Mapping) or not isinstance(steps, Sequence):
        raise InvalidRequest(PLAN_ACTION, "steps must be a list of {'action', 'args'}")
    if not 1 <= len(steps) <= MAX_STEPS:
        raise InvalidRequest(PLAN_ACTION, f"a plan has 1 to {MAX_STEPS} steps, not "
                                          f"{len(steps)}; split it, or request each action")
    return PlanRequest(
        steps=tuple(_step(i, s) for i, s in enumerate(steps)), reason=fields.reason,
        requested_by=fields.requested_by, summary=fields.summary,
        evidence=checked_evidence(PLAN_ACTION, evidence), confidence=fields.confidence,
        agent=fields.agent, run_id=fields.run_id, idempotency_key=fields.idempotency_key,
        deadline=_deadline(deadline))


def _step(index: int, step: Any) -> PlanStep:
    if isinstance(step, tuple) and len(step) == 2:
        step = {"action": step[0], "args": step[1]}
    if not isinstance(step, Mapping) or set(step) - {"action", "args"} or "action" not in step:
        raise InvalidRequest(PLAN_ACTION, f"step {index + 1} must be {{'action': name, "
                                          "'args': {...}} (or a pair (action, args))")
    action = checked_request(step["action"], requested_by="U000000").action
    if action == PLAN_ACTION:
        raise InvalidRequest(PLAN_ACTION, f"step {index + 1}: a plan cannot contain a plan")
    return PlanStep(index=index, action=action,
                    args=checked_args(action, step.get("args") or {}))


def _deadline(value: timedelta | float | None) -> timedelta | None:
    if value is None:
        return None
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not seconds > 0:
        raise InvalidRequest(PLAN_ACTION, f"deadline must be positive seconds or a "
                                          f"timedelta, not {value!r}")
    return timedelta(seconds=seconds)


class PlanRunner:
    """Runs a plan's steps through a :class:`PlanBackend`: claim, run, report."""

    def __init__(self, backend: PlanBackend) -> None:
        self.backend = backend

    def run_step(self, plan_id: str, tool: Callable[..., T], args: dict[str, Any] | None = None,
                 *, action: str | None = None, args_model: type[BaseModel] | None = None,
                 revalidate: Callable[[dict[str, Any]], bool] | None = None,
                 actor: str = "agent") -> T:
        """Run ``tool`` as the plan's next step. ``args`` (when given) must be that step's
        approved arguments; without them the approved ones are used."""
        fn, name, model, check = _unwrap(plan_id, tool, action, args_model, revalidate)
        plan = self.backend.get(plan_id)
        raise_unless_approved(plan, lambda kind: self.backend.last_reason(plan_id, kind))
        offered = (args if args is not None
                   else self.backend.plan_progress(plan_id).args_for(name))
        step = self.backend.start_step(plan_id, action=name, args=checked_args(name, offered),
                                       actor=actor)
        try:
            arguments.check_model(plan, step.args, model)
            if check is not None and not check(dict(step.args)):
                raise RevalidationFailed(plan, f"step {step.index + 1} ({name})")
            result = fn(**step.args)
        except BaseException as exc:
            self.backend.finish_step(plan_id, step.index, ok=False, actor=actor,
                                     error=f"{type(exc).__name__}: {exc}"[:2000])
            raise
        self.backend.finish_step(plan_id, step.index, ok=True, actor=actor,
                                 summary=arguments.summary(result))
        return result


def _unwrap(plan_id: str, tool: Callable[..., T], action: str | None,
            model: type[BaseModel] | None,
            revalidate: Callable[[dict[str, Any]], bool] | None
            ) -> tuple[Callable[..., T], str, type[BaseModel] | None,
                       Callable[[dict[str, Any]], bool] | None]:
    if isinstance(tool, GatedTool):
        if action is not None and action != tool.action:
            raise ActionMismatch(plan_id, tool.action, action)
        return tool.tool, tool.action, model or tool.args_model, revalidate or tool.revalidate
    if action is None:
        raise ActionMismatch(plan_id, "a step's action", None)
    return tool, action, model, revalidate


__all__ = ["MAX_STEPS", "PlanBackend", "PlanRequest", "PlanRunner", "checked_plan",
           "plan_args"]
