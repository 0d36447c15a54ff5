"""The agent-side client: Detect (policy), Escalate (ticket + card), Resume (wait/resume).

    client = ApprovalClient.from_env()
    ticket = client.request("issue_refund", {"amount": 120}, reason="double charge",
                            requested_by="U0ALICE")
    ticket = client.wait(ticket.id, timeout=600)
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from functools import lru_cache, partial
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError
from slack_sdk import WebClient

from bot.agent.argmodel import masked_fields, schema_of
from bot.agent.door import RequestIn, checked_args, checked_evidence, checked_request, readable
from bot.agent.errors import ApprovalDenied, InvalidArguments
from bot.agent.gate import Executor, GatedTool
from bot.render import render_card
from bot.settings import Settings, load_settings
from bot.slack.webapi import make_web_client, post_card
from escalation.config import SignoffConfig, load_config
from escalation.plan import deadlines
from escalation.policy import Policy, PolicyOutcome, Proposal
from store.ledger import Ledger
from store.models import Evidence, NewTicket, Ticket, TicketStatus

T = TypeVar("T")
Mode = Literal["wait", "defer"]
_FAST_POLL_FOR_S = 600.0  # poll quickly for the first ten minutes, then back off


class ApprovalClient(Executor):
    """Thread-safe; one per agent process is enough."""

    def __init__(self, ledger: Ledger, config: SignoffConfig, *, slack: WebClient | None = None,
                 poll_interval: float = 0.02, max_poll_interval: float = 1.0) -> None:
        super().__init__(ledger, slack)
        self.config = config
        self.policy = Policy(config)
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval

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
        """Database, config, Slack token and API URL from the environment (see README)."""
        return cls.from_settings(load_settings(), **kwargs)

    def close(self) -> None:
        self.ledger.close()

    # -- Detect -------------------------------------------------------------------------

    def evaluate(self, action: str, args: dict[str, Any], *, requested_by: str,
                 confidence: float | None = None) -> PolicyOutcome:
        """What policy says about an action, without creating anything."""
        req = checked_request(action, requested_by=requested_by, confidence=confidence)
        return self.policy.evaluate(Proposal(action=req.action,
                                             args=checked_args(req.action, args),
                                             requested_by=req.requested_by,
                                             confidence=req.confidence))

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
        req = checked_request(action, reason=reason, requested_by=requested_by,
                              summary=summary, evidence=evidence, confidence=confidence,
                              agent=agent, run_id=run_id, idempotency_key=idempotency_key)
        args = _validated(req.action, args, args_model)
        outcome = self.policy.evaluate(Proposal(action=req.action, args=args,
                                                requested_by=req.requested_by,
                                                confidence=req.confidence))
        if outcome.decision == "deny":
            self.ledger.record_event(None, "denied", actor=req.agent or req.requested_by,
                                     action=req.action, args=args, rule=outcome.rule,
                                     reason=outcome.reason, requested_by=req.requested_by,
                                     policy_version=outcome.policy_version)
            raise ApprovalDenied(req.action, outcome.rule, outcome.reason,
                                 policy_version=outcome.policy_version)
        draft = partial(self._new_ticket, outcome, req, args,
                        args_schema=_schema(args_model) if args_model else None)
        ticket, created = self.ledger.create_ticket(draft)
        if created and ticket.status == TicketStatus.PENDING:
            ticket = post_card(self.slack, self.ledger, ticket,
                               dict(render_card(ticket, masked=masked_fields(ticket.args_schema))))
        return ticket

    def _new_ticket(self, outcome: PolicyOutcome, req: RequestIn, args: dict[str, Any],
                    created_at: datetime, *, args_schema: dict[str, Any] | None) -> NewTicket:
        """The ticket, its deadlines planned from ``created_at`` (the database's clock, read
        by ``create_ticket`` in the transaction that creates it)."""
        allowed = outcome.decision == "allow"
        route = outcome.route or self.config.route()
        plan = None if allowed else deadlines(self.config, outcome.chain, created_at=created_at,
                                              expire_after=outcome.expire_after)
        return NewTicket(
            action=req.action, args=args, review_type=outcome.review, summary=req.summary,
            reason=req.reason, evidence=req.evidence, confidence=req.confidence,
            requested_by=req.requested_by, agent=req.agent, run_id=req.run_id,
            idempotency_key=req.idempotency_key, tier=outcome.tier, route=route,
            policy_version=outcome.policy_version, policy_rule=outcome.rule,
            status=TicketStatus.APPROVED if allowed else TicketStatus.PENDING,
            expires_at=plan.expires_at if plan else created_at,
            next_action_at=plan.next_action_at if plan else None,
            escalation=plan.snapshot if plan else None, args_schema=args_schema,
        )

    # -- Resume -------------------------------------------------------------------------

    def get(self, ticket_id: str) -> Ticket:
        return self.ledger.get_ticket(ticket_id)

    def wait(self, ticket_id: str, timeout: float | timedelta | None = None) -> Ticket:
        """Block until the ticket leaves ``pending`` (or ``timeout`` passes); return it."""
        limit = timeout.total_seconds() if isinstance(timeout, timedelta) else timeout
        start = time.monotonic()
        interval = self.poll_interval
        while True:
            status, _version = self.ledger.status_of(ticket_id)
            if status != TicketStatus.PENDING:
                return self.ledger.get_ticket(ticket_id)
            waited = time.monotonic() - start
            if limit is not None and waited >= limit:
                return self.ledger.get_ticket(ticket_id)
            if waited > _FAST_POLL_FOR_S:
                interval = min(interval * 2, self.max_poll_interval)
            pause = interval if limit is None else min(interval, max(limit - waited, 0.0))
            time.sleep(pause)

    def cancel(self, ticket_id: str, reason: str, *, actor: str = "agent") -> Ticket:
        ticket = self.ledger.cancel(ticket_id, actor=actor, reason=reason)
        self.refresh_card(ticket)
        return ticket

    def answer(self, ticket_id: str, text: str, *,
               evidence: Sequence[Evidence | dict[str, Any]] = (),
               actor: str = "agent") -> Ticket:
        """Answer a reviewer's question; the ticket goes back to ``pending``."""
        items = checked_evidence("answer", evidence)
        ticket = self.ledger.answer_info(ticket_id, actor=actor, text=text, evidence=items)
        self.thread_reply(ticket, "answer", text=text)
        self.refresh_card(ticket)
        return ticket

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


@lru_cache(maxsize=256)
def _schema_json(model: type[BaseModel]) -> str:
    return json.dumps(schema_of(model))


def _schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON Schema, generated once per model (a fresh copy for each ticket)."""
    parsed: dict[str, Any] = json.loads(_schema_json(model))
    return parsed


def _validated(action: str, args: Any, model: type[BaseModel] | None) -> dict[str, Any]:
    """The arguments as the tool's model reads them (when there is one), as plain JSON."""
    if model is not None:
        try:
            args = model.model_validate(args).model_dump(mode="json")
        except ValidationError as exc:
            raise InvalidArguments(action, readable(exc)) from None
    return checked_args(action, args)
