"""The demo's two-step plan: pause a disputed subscription, then refund its renewal. One card
in #payments lists both steps; once a reviewer approves it, the agent runs them in order
(each once, with exactly the approved arguments) and the card shows each step as it runs."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.agent.client import ApprovalClient
from bot.agent.errors import ApprovalError
from bot.demo.config import REQUESTER
from store.models import TicketStatus

log = logging.getLogger(__name__)
AGENT = "support-agent"
STEPS = (
    {"action": "pause_subscription", "args": {"customer": "cus_dina", "plan": "pro-monthly"}},
    {"action": "issue_refund", "args": {"amount": 49, "currency": "EUR", "customer": "cus_dina",
                                        "notify_customer": True,
                                        "note": "renewal charged after cancellation"}},
)


def _tool(action: str) -> Callable[..., dict[str, Any]]:
    return lambda **args: {"ok": True, "action": action, "customer": args.get("customer")}


@dataclass
class DemoPlan:
    """Asks for the plan once, waits for reviewers, then runs its steps in order."""

    client: ApprovalClient
    report: Callable[[str], None]
    stopping: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    plan_id: str | None = None

    def start(self) -> DemoPlan:
        self.thread = threading.Thread(target=self._run, daemon=True, name="demo-plan")
        self.thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(timeout)

    def _run(self) -> None:
        try:
            self._run_plan()
        except ApprovalError as exc:
            self.report(f":warning: the two-step plan did not run on: {exc}")
        except Exception:  # the plan must not stop the demo
            if not self.stopping.is_set():  # the demo closing under it is no failure
                log.exception("demo plan failed")

    def _run_plan(self) -> None:
        ticket = self.client.request_plan(
            list(STEPS), reason="The customer cancelled before the renewal but was charged: "
            "pause the subscription first, then refund the renewal.",
            summary="Pause cus_dina's subscription, then refund EUR 49",
            requested_by=REQUESTER.id, agent=AGENT)
        self.plan_id = ticket.id
        self.report(f":clipboard: a two-step plan is waiting for review (ticket `{ticket.id}`).")
        while ticket.status == TicketStatus.PENDING and not self.stopping.is_set():
            ticket = self.client.wait(ticket.id, timeout=0.5)
        if self.stopping.is_set():
            return
        for step in STEPS:
            action = str(step["action"])
            result = self.client.run_step(ticket.id, _tool(action), action=action, actor=AGENT)
            self.report(f":white_check_mark: plan step `{action}` ran: `{result}`")
