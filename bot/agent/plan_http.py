"""Plans over HTTP (mixed into :class:`~bot.agent.http.HttpBackend`): ``/v1/plans``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.agent import wire
from bot.agent.plan import PlanRequest
from store.models import PLAN_ACTION, PlanProgress, PlanStep, PlanStepState, Ticket


class HttpPlans:
    if TYPE_CHECKING:
        _reasons: dict[str, str | None]

        def _call(self, method: str, path: str, *, body: Any = None, params: Any = None,
                  timeout: float | None = None, ticket_id: str | None = None,
                  action: str | None = None) -> dict[str, Any]: ...

    def request_plan(self, request: PlanRequest) -> Ticket:
        doc = self._call("POST", "/v1/plans", body=plan_body(request), action=PLAN_ACTION)
        ticket, why = wire.created(doc)
        self._reasons[ticket.id] = why
        return ticket

    def plan_progress(self, plan_id: str) -> PlanProgress:
        return PlanProgress.model_validate(
            self._call("GET", f"/v1/plans/{plan_id}", ticket_id=plan_id))

    def start_step(self, plan_id: str, *, action: str, args: dict[str, Any],
                   actor: str) -> PlanStep:
        doc = self._call("POST", f"/v1/plans/{plan_id}/steps",
                         body={"action": action, "args": args}, ticket_id=plan_id,
                         action=action)
        wire.RECEIPT.set(doc["receipt"])  # current_receipt() for the step's tool
        return step_of(doc)

    def finish_step(self, plan_id: str, index: int, *, ok: bool, actor: str,
                    summary: str | None = None, error: str | None = None) -> PlanProgress:
        wire.RECEIPT.set(None)
        return PlanProgress.model_validate(self._call(
            "POST", f"/v1/plans/{plan_id}/steps/{index}/outcome",
            body={"ok": ok, "summary": summary, "error": error}, ticket_id=plan_id))


def plan_body(request: PlanRequest) -> dict[str, Any]:
    """``POST /v1/plans``'s body (``agent`` is not sent: the server records the token's)."""
    return {"steps": [{"action": s.action, "args": s.args} for s in request.steps],
            "reason": request.reason, "requested_by": request.requested_by,
            "summary": request.summary, "evidence": wire.evidence_list(request.evidence),
            "confidence": request.confidence, "run_id": request.run_id,
            "idempotency_key": request.idempotency_key,
            "deadline_s": request.deadline.total_seconds() if request.deadline else None}


def step_of(doc: dict[str, Any]) -> PlanStep:
    return PlanStep(index=doc["index"], action=doc["action"], args=doc["args"],
                    state=PlanStepState.RUNNING)
