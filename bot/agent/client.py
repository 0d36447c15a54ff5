"""The agent-side client: Detect (policy), Escalate (ticket + card), Resume (wait/resume).

    client = ApprovalClient.from_env()
    ticket = client.request("issue_refund", {"amount": 120}, reason="double charge",
                            requested_by="U0ALICE")
    ticket = client.wait(ticket.id, timeout=600)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any, Literal, TypeVar

from pydantic import BaseModel
from slack_sdk import WebClient

from bot.agent.arguments import schema, validated
from bot.agent.backend import ApprovalBackend, ApprovalRequest
from bot.agent.door import checked, checked_args, checked_evidence, checked_request
from bot.agent.errors import InvalidRequest
from bot.agent.gate import Enforcer, GatedTool
from bot.agent.inprocess import InProcessBackend
from bot.agent.plan import PlanBackend, PlanRunner, checked_plan
from bot.settings import Settings, load_settings
from bot.slack.webapi import make_web_client
from escalation.config import SignoffConfig, load_config
from escalation.policy import PolicyOutcome
from store.ledger import Ledger
from store.models import Evidence, PlanProgress, Ticket

T = TypeVar("T")
Mode = Literal["wait", "defer"]


class ApprovalClient:
    """Thread-safe; one per agent process is enough.

    ``ApprovalClient(ledger, config, slack=...)`` works in this process; any other
    :class:`~bot.agent.backend.ApprovalBackend` can be given as ``backend=``.
    """

    def __init__(self, ledger: Ledger | None = None, config: SignoffConfig | None = None, *,
                 slack: WebClient | None = None, poll_interval: float = 0.02,
                 max_poll_interval: float = 1.0, backend: ApprovalBackend | None = None) -> None:
        if backend is None:
            if ledger is None or config is None:
                raise TypeError("ApprovalClient needs a ledger and a config, or a backend")
            backend = InProcessBackend(ledger, config, slack=slack, poll_interval=poll_interval,
                                       max_poll_interval=max_poll_interval)
        self.backend = backend
        self.enforcer = Enforcer(backend)

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> ApprovalClient:
        slack = None
        if settings.slack_bot_token is not None:
            slack = make_web_client(settings.slack_bot_token.get_secret_value(),
                                    settings.slack_api_url)
        ledger = Ledger.open(settings.database_url, audit_key=settings.audit_key_bytes)
        return cls(ledger, load_config(settings.config_path), slack=slack, **kwargs)

    @classmethod
    def from_env(cls, **kwargs: Any) -> ApprovalClient:
        """With ``SIGNOFF_URL`` and ``SIGNOFF_AGENT_TOKEN`` set: over HTTP to ``signoff
        serve``, holding nothing but the token. Otherwise embedded: database, config, Slack
        token and API URL from the environment (see README)."""
        settings = load_settings()
        if settings.signoff_url and settings.agent_token is not None:
            from bot.agent.http import HttpBackend

            return cls(backend=HttpBackend(settings.signoff_url,
                                           settings.agent_token.get_secret_value()))
        return cls.from_settings(settings, **kwargs)

    def close(self) -> None:
        self.backend.close()

    @property
    def local(self) -> InProcessBackend:
        """The in-process backend (its ledger, config and Slack client)."""
        if not isinstance(self.backend, InProcessBackend):
            raise TypeError("this client talks to signoff through "
                            f"{type(self.backend).__name__}, not in process")
        return self.backend

    @property
    def ledger(self) -> Ledger:
        return self.local.ledger

    @property
    def config(self) -> SignoffConfig:
        return self.local.config

    @property
    def slack(self) -> WebClient | None:
        return self.local.slack

    # -- Detect -------------------------------------------------------------------------

    def evaluate(self, action: str, args: dict[str, Any], *, requested_by: str,
                 confidence: float | None = None) -> PolicyOutcome:
        """What policy says about an action, without creating anything."""
        req = checked_request(action, requested_by=requested_by, confidence=confidence)
        return self.backend.evaluate(req.action, checked_args(req.action, args),
                                     requested_by=req.requested_by, confidence=req.confidence)

    # -- Escalate -----------------------------------------------------------------------

    def request(self, action: str, args: dict[str, Any], *, reason: str, requested_by: str,
                summary: str | None = None, evidence: Sequence[Evidence | dict[str, Any]] = (),
                confidence: float | None = None, agent: str | None = None,
                run_id: str | None = None, idempotency_key: str | None = None,
                args_model: type[BaseModel] | None = None) -> Ticket:
        """Ask for approval. Returns at once: ``approved`` (policy allows) or ``pending``.

        Raises :class:`ApprovalDenied` when policy denies, :class:`InvalidRequest` (or
        :class:`InvalidArguments`) before anything is stored when the request is malformed.
        The same idempotency key (per requester) with the same action and arguments returns
        the same ticket and posts no second card; with others it raises IdempotencyConflict.
        """
        name = str(action)
        plain = validated(name, args, args_model) if args_model is not None else args
        return self.backend.request(checked(ApprovalRequest(
            action=action, args=checked_args(name, plain), reason=reason,
            requested_by=requested_by, summary=summary,
            evidence=checked_evidence(name, evidence), confidence=confidence, agent=agent,
            run_id=run_id, idempotency_key=idempotency_key,
            args_schema=schema(args_model) if args_model else None)))

    # -- Resume -------------------------------------------------------------------------

    def get(self, ticket_id: str) -> Ticket:
        return self.backend.get(ticket_id)

    def wait(self, ticket_id: str, timeout: float | timedelta | None = None) -> Ticket:
        """Block until the ticket leaves ``pending`` (or ``timeout`` passes); return it."""
        limit = timeout.total_seconds() if isinstance(timeout, timedelta) else timeout
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int | float)
                                  or math.isnan(limit)):
            raise InvalidRequest("wait", f"timeout must be seconds or a timedelta, not "
                                         f"{timeout!r}")
        return self.backend.wait(ticket_id, limit)

    def cancel(self, ticket_id: str, reason: str, *, actor: str = "agent") -> Ticket:
        return self.backend.cancel(ticket_id, reason, actor=actor)

    def answer(self, ticket_id: str, text: str, *,
               evidence: Sequence[Evidence | dict[str, Any]] = (),
               actor: str = "agent") -> Ticket:
        """Answer a reviewer's question; the ticket goes back to ``pending``."""
        items = checked_evidence("answer", evidence)
        return self.backend.answer(ticket_id, text, evidence=items, actor=actor)

    # -- Enforce ------------------------------------------------------------------------

    def raise_unless_approved(self, ticket: Ticket) -> None:
        self.enforcer.raise_unless_approved(ticket)

    def execute(self, ticket_id: str, tool: Callable[..., T], args: dict[str, Any] | None = None,
                *, action: str | None = None,
                revalidate: Callable[[dict[str, Any]], bool] | None = None,
                args_model: type[BaseModel] | None = None, actor: str = "agent") -> T:
        """Run ``tool`` once with the approved arguments (``args``, if given, must match them
        by hash). An approval is consumed by its first execution, and only by the action it
        approved: ``tool`` is a :class:`GatedTool` (its action, model and revalidate hook
        apply) or a plain callable, and then ``action`` must say which action it performs."""
        return self.enforcer.execute(self.backend.get(ticket_id), tool, args, action=action,
                                     revalidate=revalidate, args_model=args_model, actor=actor)

    def resume(self, ticket_id: str, tool: Callable[..., T], *, action: str | None = None,
               revalidate: Callable[[dict[str, Any]], bool] | None = None,
               args_model: type[BaseModel] | None = None) -> T:
        """Pick a deferred request up again, in any process: run it if approved, else raise.
        ``tool`` is the gated tool (or a plain callable with ``action=``), as for
        :meth:`execute`."""
        return self.execute(ticket_id, tool, action=action, revalidate=revalidate,
                            args_model=args_model)

    # -- plans (bot/agent/plan.py) ------------------------------------------------------------

    @property
    def _plans(self) -> PlanBackend:
        if not isinstance(self.backend, PlanBackend):
            raise TypeError(f"{type(self.backend).__name__} does not offer plans")
        return self.backend

    def request_plan(self, steps: Sequence[Mapping[str, Any] | tuple[str, dict[str, Any]]], *,
                     reason: str, requested_by: str, summary: str | None = None,
                     evidence: Sequence[Evidence | dict[str, Any]] = (),
                     confidence: float | None = None, agent: str | None = None,
                     run_id: str | None = None, idempotency_key: str | None = None,
                     deadline: timedelta | float | None = None) -> Ticket:
        """Ask once for a short plan: ``steps`` are ``{"action", "args"}`` in the order they
        will run. Returns the plan's ticket (``approved`` when policy allows every step,
        else ``pending`` with one card); raises :class:`ApprovalDenied` when policy denies
        any step (nothing stored or posted). ``deadline``: how long after approval the
        steps may run (at most the configured ``plan_deadline``)."""
        return self._plans.request_plan(checked_plan(
            steps, reason=reason, requested_by=requested_by, summary=summary,
            evidence=evidence, confidence=confidence, agent=agent, run_id=run_id,
            idempotency_key=idempotency_key, deadline=deadline))

    def plan(self, plan_id: str) -> PlanProgress:
        """Where the plan stands: each step's state, and why it ended if it did."""
        return self._plans.plan_progress(plan_id)

    def run_step(self, plan_id: str, tool: Callable[..., T], args: dict[str, Any] | None = None,
                 *, action: str | None = None, args_model: type[BaseModel] | None = None,
                 revalidate: Callable[[dict[str, Any]], bool] | None = None,
                 actor: str = "agent") -> T:
        """Run ``tool`` (a :class:`GatedTool`, or a callable with ``action=``) as the plan's
        next step, once, with its approved arguments (``args``, if given, must be them).
        Anything the plan does not cover now raises :class:`PlanStepRefused`."""
        return PlanRunner(self._plans).run_step(plan_id, tool, args, action=action,
                                                args_model=args_model, revalidate=revalidate,
                                                actor=actor)

    # -- the gate -----------------------------------------------------------------------

    def gate(self, action: str | None = None, *, args_model: type[BaseModel] | None = None,
             mode: Mode = "wait", revalidate: Callable[[dict[str, Any]], bool] | None = None,
             timeout: float | None = None, requested_by: str | None = None,
             agent: str | None = None) -> Callable[[Callable[..., T]], GatedTool[T]]:
        """Decorator: ``@client.gate("issue_refund", args_model=RefundArgs)``."""

        def wrap(tool: Callable[..., T]) -> GatedTool[T]:
            return GatedTool(self, tool, action=action or tool.__name__, args_model=args_model,
                             mode=mode, revalidate=revalidate, timeout=timeout,
                             requested_by=requested_by, agent=agent)

        return wrap

    def call(self, tool: Callable[..., T], args: dict[str, Any], *, reason: str,
             requested_by: str, action: str | None = None, mode: Mode = "wait",
             args_model: type[BaseModel] | None = None,
             revalidate: Callable[[dict[str, Any]], bool] | None = None,
             timeout: float | None = None, **meta: Any) -> T:
        """The gate as a plain call: policy → (approval) → run with the approved arguments."""
        gated = GatedTool(self, tool, action=action or tool.__name__, args_model=args_model,
                          mode=mode, revalidate=revalidate, timeout=timeout)
        return gated.call(args, reason=reason, requested_by=requested_by, **meta)
