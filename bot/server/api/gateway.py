"""What the HTTP API does for an authenticated agent, in plain (blocking) calls.

The routes in :mod:`bot.server.api.app` only translate HTTP; every rule lives here: scope
by action glob, the open-request cap, ownership (an agent sees only its own tickets),
idempotency keys scoped to the agent, the execution claim and its receipt.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bot import receipts
from bot.agent.backend import ApprovalRequest
from bot.agent.errors import ApprovalDenied
from bot.agent.inprocess import InProcessBackend
from bot.server.api.errors import ApiError, too_many_pending
from bot.server.api.models import (
    AnswerIn,
    DeniedOut,
    ExecutionOut,
    OutcomeIn,
    RedeemOut,
    RequestIn,
    TicketOut,
)
from bot.server.api.waiters import WaitHub
from escalation.policy import untrusted
from store.agents import Agent, AgentStore
from store.errors import OpenRequestsCapped, TicketNotFound
from store.ledger import Ledger
from store.models import DecisionKind, Ticket, TicketStatus


def _vouched(agent: Agent, annotations: dict[str, Any]) -> dict[str, Any]:
    """Annotations only loosen policy when the token may vouch for them (an mcp-proxy's,
    passing on an upstream marked trust_annotations); from any other agent they are its
    own claim about its tool, so they can only tighten."""
    return annotations if agent.trusted_annotations else untrusted(annotations)
CLAIMED = (TicketStatus.EXECUTING, TicketStatus.EXECUTED, TicketStatus.FAILED,
           TicketStatus.OUTCOME_UNKNOWN)


@dataclass
class Gateway:
    backend: InProcessBackend  # policy, ledger and Slack, on the server's side of the line
    agents: AgentStore
    hub: WaitHub = field(default_factory=WaitHub)
    receipt_ttl: timedelta = receipts.DEFAULT_TTL
    passphrase: bytes | None = None

    @property
    def ledger(self) -> Ledger:
        return self.backend.ledger

    # -- who is calling -----------------------------------------------------------------------

    def authenticate(self, token: str | None) -> Agent:
        agent = self.agents.authenticate(token) if token else None
        if agent is None:
            raise ApiError(401, "unauthorized",
                           "missing, unknown or revoked agent token: send "
                           "'Authorization: Bearer <token from signoff agents add>'",
                           headers={"WWW-Authenticate": "Bearer"})
        return agent

    def owned(self, agent: Agent, ticket_id: str) -> Ticket:
        """The ticket, if ``agent`` created it; others' tickets (and canaries, whatever agent
        name they show reviewers) do not exist for it."""
        ticket = self.ledger.get_ticket(ticket_id, for_agent=True)
        if ticket.agent != agent.name:
            raise TicketNotFound(ticket_id)
        return ticket

    def view(self, agent: Agent, ticket_id: str) -> TicketOut:
        return self.out(agent, self.owned(agent, ticket_id))

    def out(self, agent: Agent, ticket: Ticket) -> TicketOut:
        reason = None
        kind = {TicketStatus.REJECTED: DecisionKind.REJECT,
                TicketStatus.NEEDS_INFO: DecisionKind.REQUEST_INFO}.get(ticket.status)
        if kind is not None:
            reason = self.backend.last_reason(ticket.id, kind)
        # The ticket's own fields, already validated when it was built: dumping it and
        # validating the dump again cost every request and every read a second pass.
        return TicketOut.model_construct(
            **{**dict(ticket), "idempotency_key": _unscoped(agent, ticket.idempotency_key)},
            decision_reason=reason)

    # -- requests -------------------------------------------------------------------------

    @staticmethod
    def in_scope(agent: Agent, action: str) -> None:
        """403 unless ``action`` matches one of the token's action globs."""
        if not any(fnmatch.fnmatchcase(action, glob) for glob in agent.actions):
            raise ApiError(403, "action_not_allowed",
                           f"agent {agent.name!r} may not request {action!r} (its "
                           f"actions: {', '.join(agent.actions) or 'none'})")

    def request(self, agent: Agent, body: RequestIn) -> TicketOut | DeniedOut | ExecutionOut:
        self.in_scope(agent, body.action)
        key = f"{agent.name}:{body.idempotency_key}" if body.idempotency_key else None
        # Loaded before anything is claimed; a key that cannot be loaded claims nothing here,
        # and the separate claim then says why (503 receipt_key_unusable).
        signer = self._usable_signer() if body.claim else None
        try:
            ticket, claimed = self.backend.request_claimed(ApprovalRequest(
                action=body.action, args=body.args, reason=body.reason,
                requested_by=body.requested_by, summary=body.summary,
                evidence=tuple(body.evidence), confidence=body.confidence, agent=agent.name,
                run_id=body.run_id, idempotency_key=key, args_schema=body.args_schema,
                annotations=_vouched(agent, body.annotations), open_cap=agent.max_pending),
                claim_as=agent.name if signer is not None else None)
        except ApprovalDenied as exc:
            return DeniedOut(action=exc.action, rule=exc.rule, reason=exc.reason,
                             policy_version=exc.policy_version)
        except OpenRequestsCapped as exc:
            raise too_many_pending(exc) from None
        if claimed and signer is not None:
            return self._execution(agent, ticket, signer)
        return self.out(agent, ticket)

    def _execution(self, agent: Agent, ticket: Ticket, key: tuple[str, Any]) -> ExecutionOut:
        """The claimed ticket, its exact arguments and the receipt for them."""
        now = datetime.now(UTC)
        return ExecutionOut(ticket=self.out(agent, ticket), args=ticket.final_args,
                            args_sha256=ticket.final_args_hash,
                            receipt=receipts.sign(ticket, key, agent=agent.name, now=now,
                                                  ttl=self.receipt_ttl),
                            receipt_expires_at=now + self.receipt_ttl)

    def _usable_signer(self) -> tuple[str, Any] | None:
        try:
            return self.signer()
        except ApiError:
            return None

    def claim(self, agent: Agent, ticket_id: str, args: dict[str, Any] | None,
              action: str | None = None) -> ExecutionOut:
        """Consume the approval once, for its own action only; the exact approved arguments
        and a receipt."""
        ticket = self.owned(agent, ticket_id)
        if ticket.status in CLAIMED:
            raise ApiError(409, "already_claimed",
                           f"request {ticket.id} was already claimed for execution "
                           f"(it is {ticket.status.value})")
        if ticket.status != TicketStatus.APPROVED:
            raise ApiError(409, "not_approved",
                           f"request {ticket.id} is {ticket.status.value}, not approved")
        offered = ticket.final_args if args is None else args
        key = self.signer()  # before the claim: an unusable key must not consume approvals
        ticket = self.ledger.start_execution(ticket.id, action=action or ticket.action,
                                             args=offered, actor=agent.name,
                                             lease=self.backend.config.execution_lease)
        return self._execution(agent, ticket, key)

    def outcome(self, agent: Agent, ticket_id: str, body: OutcomeIn) -> TicketOut:
        self.owned(agent, ticket_id)
        done = self.backend.finish_execution(ticket_id, ok=body.ok, actor=agent.name,
                                             summary=body.summary, error=body.error)
        return self.out(agent, done)

    def cancel(self, agent: Agent, ticket_id: str, reason: str) -> TicketOut:
        self.owned(agent, ticket_id)
        return self.out(agent, self.backend.cancel(ticket_id, reason, actor=agent.name))

    def answer(self, agent: Agent, ticket_id: str, body: AnswerIn) -> TicketOut:
        self.owned(agent, ticket_id)
        return self.out(agent, self.backend.answer(ticket_id, body.text,
                                                   evidence=body.evidence, actor=agent.name))

    # -- receipts -------------------------------------------------------------------------

    def signing_key(self) -> tuple[str, str]:
        active = [k for k in self.agents.signing_keys() if k.active]
        if not active:  # the first claim of a fresh install creates the first key
            kid, pem, public = receipts.generate_key(self.passphrase)
            self.agents.add_key(kid, pem, public, actor="signoff")
            return kid, pem
        return active[0].kid, active[0].private_pem

    def signer(self) -> tuple[str, Any]:
        """The active signing key, loaded; a 503 that names the fix when it cannot be."""
        kid, pem = self.signing_key()
        try:
            return receipts.signer(kid, pem, self.passphrase)
        except receipts.KeyUnusable as exc:
            raise ApiError(503, "receipt_key_unusable",
                           f"{exc}; nothing was claimed and the approval still stands. Set "
                           "SIGNOFF_KEYS_PASSPHRASE to the passphrase the key was made "
                           "with, or rotate the key (signoff keys rotate)") from exc

    def jwks(self) -> dict[str, Any]:
        return receipts.jwks([k.public_jwk for k in self.agents.signing_keys()])

    def redeem(self, token: str, *, actor: str) -> RedeemOut:
        """Single use, online: the first redemption of a valid receipt wins."""
        try:
            claims = receipts.decode(token, keys=self.jwks())
        except receipts.ReceiptInvalid as exc:
            raise ApiError(422, f"receipt_{exc.code}", str(exc)) from None
        at = self.agents.redeem(str(claims["jti"]), str(claims["sub"]), actor=actor)
        if at is None:
            raise ApiError(409, "already_redeemed",
                           f"receipt {claims['jti']} was already redeemed")
        return RedeemOut(redeemed=True, ticket_id=str(claims["sub"]),
                         action=str(claims["action"]), args_sha256=str(claims["args_sha256"]),
                         redeemed_at=at)


def _unscoped(agent: Agent, key: str | None) -> str | None:
    prefix = f"{agent.name}:"
    return key[len(prefix):] if key and key.startswith(prefix) else key
