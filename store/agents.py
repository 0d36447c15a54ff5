"""Agents of the HTTP gateway, the keys that sign approval receipts, and receipt redemptions.

A token is shown once when the agent is added and stored only as its SHA-256; every request
looks the agent up again, so a revocation holds at once on every replica that shares the
database. Revocations and additions are audited like ticket events.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Any, cast

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.exc import IntegrityError

from store import webhooks
from store.errors import AgentExists, AgentNotFound, StoreError
from store.ledger import Ledger
from store.tables import AgentRow, RedemptionRow, SigningKeyRow, WebhookDeliveryRow
from store.tickets import count_open
from store.webhooks import DELIVERED, FAILED, PENDING, Delivery

TOKEN_PREFIX = "sgn_"
AGENTS = cast(Table, AgentRow.__table__)
# Built once: every request of the agent API runs it.
_BY_TOKEN = select(AGENTS).where(AGENTS.c.token_hash == bindparam("h"))


class Agent(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    actions: tuple[str, ...]
    max_pending: int
    webhook_url: str | None
    webhook_secret: str | None = None
    created_at: datetime
    revoked_at: datetime | None
    trusted_annotations: bool = False
    """May vouch for MCP tool annotations (an ``signoff mcp-proxy`` token); any other
    agent's annotations reach policy marked untrusted."""

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


class SigningKey(BaseModel):
    model_config = ConfigDict(frozen=True)

    kid: str
    private_pem: str
    public_jwk: dict[str, Any]
    active: bool
    created_at: datetime
    retired_at: datetime | None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _agent(row: AgentRow) -> Agent:
    return Agent(name=row.name, actions=tuple(row.actions), max_pending=row.max_pending,
                 webhook_url=row.webhook_url, webhook_secret=row.webhook_secret,
                 created_at=row.created_at, revoked_at=row.revoked_at,
                 trusted_annotations=bool(row.trusted_annotations))


class AgentStore:
    """Intent-named operations on agents, keys and redemptions, over the ledger's database."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    # -- agents ---------------------------------------------------------------------------

    def add(self, name: str, *, actions: tuple[str, ...], max_pending: int,
            webhook_url: str | None = None, trusted_annotations: bool = False,
            actor: str = "operator") -> tuple[Agent, str]:
        """Create an agent; returns it and its token (shown once, never stored)."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        secret = "whsec_" + secrets.token_urlsafe(24) if webhook_url else None
        try:
            with self.ledger._tx() as s:
                now = self.ledger._now(s)
                row = AgentRow(name=name, token_hash=token_hash(token), actions=list(actions),
                               max_pending=max_pending, webhook_url=webhook_url,
                               webhook_secret=secret, created_at=now, revoked_at=None,
                               trusted_annotations=trusted_annotations)
                s.add(row)
                s.flush()
                self.ledger._audit(s, None, "agent_added", actor, now, agent=name,
                                   actions=list(actions), max_pending=max_pending,
                                   webhook_url=webhook_url,
                                   trusted_annotations=trusted_annotations)
                return _agent(row), token
        except IntegrityError:
            raise AgentExists(name) from None

    def all(self) -> list[Agent]:
        with self.ledger._tx(write=False) as s:
            rows = s.execute(select(AgentRow).order_by(AgentRow.name)).scalars()
            return [_agent(r) for r in rows]

    def get(self, name: str) -> Agent:
        with self.ledger._tx(write=False) as s:
            row = s.get(AgentRow, name)
            if row is None:
                raise AgentNotFound(name)
            return _agent(row)

    def revoke(self, name: str, *, actor: str = "operator") -> Agent:
        with self.ledger._tx() as s:
            row = s.get(AgentRow, name, with_for_update=True)
            if row is None:
                raise AgentNotFound(name)
            if row.revoked_at is None:
                now = self.ledger._now(s)
                row.revoked_at = now
                self.ledger._audit(s, None, "agent_revoked", actor, now, agent=name)
            s.flush()
            return _agent(row)

    def authenticate(self, token: str) -> Agent | None:
        """The live agent holding ``token``, or None (unknown, revoked): read afresh at every
        call, never cached, so a revocation holds from the next request on."""
        digest = token_hash(token)
        row = self.ledger.read(lambda c: c.execute(_BY_TOKEN, {"h": digest}).one_or_none(),
                               one_statement=True)
        # The lookup is by hash; comparing the stored hash again in constant time keeps
        # the check itself free of timing differences whatever the index does.
        if row is None or not hmac.compare_digest(row.token_hash, digest):
            return None
        return None if row.revoked_at is not None else _agent(row)  # type: ignore[arg-type]

    def open_tickets(self, name: str, *, up_to: int | None = None) -> int:
        """How many requests of ``name`` wait for a decision; counted only ``up_to`` that
        many (all that a cap of ``up_to`` needs to know), so the count costs no more for an
        agent with a long queue."""
        stmt = count_open(name, up_to)
        return int(self.ledger.read(lambda c: c.execute(stmt).scalar_one(), one_statement=True))

    # -- receipt signing keys ---------------------------------------------------------------

    def add_key(self, kid: str, private_pem: str, public_jwk: dict[str, Any], *,
                actor: str = "operator") -> SigningKey:
        """Store a new key as the active signer; the previous ones keep verifying."""
        with self.ledger._tx() as s:
            now = self.ledger._now(s)
            s.execute(update(SigningKeyRow).where(SigningKeyRow.active.is_(True))
                      .values(active=False))
            row = SigningKeyRow(kid=kid, private_pem=private_pem, public_jwk=public_jwk,
                                created_at=now, active=True, retired_at=None)
            s.add(row)
            s.flush()
            self.ledger._audit(s, None, "key_rotated", actor, now, kid=kid)
            return _key(row)

    def retire_key(self, kid: str, *, actor: str = "operator") -> None:
        with self.ledger._tx() as s:
            now = self.ledger._now(s)
            s.execute(update(SigningKeyRow).where(SigningKeyRow.kid == kid)
                      .values(active=False, retired_at=now))
            self.ledger._audit(s, None, "key_retired", actor, now, kid=kid)

    def signing_keys(self) -> list[SigningKey]:
        """Keys that still verify (not retired), newest first."""
        with self.ledger._tx(write=False) as s:
            rows = s.execute(select(SigningKeyRow).where(SigningKeyRow.retired_at.is_(None))
                             .order_by(SigningKeyRow.created_at.desc())).scalars()
            return [_key(r) for r in rows]

    # -- online redemption ------------------------------------------------------------------

    def redeem(self, jti: str, ticket_id: str, *, actor: str) -> datetime | None:
        """Mark a receipt used. Returns when, or None if it had been redeemed before."""
        try:
            with self.ledger._tx() as s:
                now = self.ledger._now(s)
                s.add(RedemptionRow(jti=jti, ticket_id=ticket_id, redeemed_at=now))
                s.flush()
                self.ledger._audit(s, ticket_id, "receipt_redeemed", actor, now, jti=jti)
                return now
        except IntegrityError:
            return None


def _key(row: SigningKeyRow) -> SigningKey:
    return SigningKey(kid=row.kid, private_pem=row.private_pem, public_jwk=row.public_jwk,
                      active=row.active, created_at=row.created_at, retired_at=row.retired_at)


class WebhookStore:
    """Deliveries of decision webhooks: lease, record, list, redeliver."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def claim_due(self, *, limit: int = 20,
                  lease: timedelta = timedelta(seconds=60)) -> list[tuple[Delivery, Agent]]:
        """Due deliveries leased to the caller, each with its agent (URL and secret)."""
        with self.ledger._tx(write=False) as s:  # most rounds find nothing: no write lock
            if not webhooks.any_due(s, self.ledger._now(s)):
                return []
        with self.ledger._tx() as s:
            ids = webhooks.claim_due(s, self.ledger._now(s), limit=limit, lease=lease)
            if not ids:
                return []
            rows = s.execute(select(WebhookDeliveryRow, AgentRow)
                             .join(AgentRow, AgentRow.name == WebhookDeliveryRow.agent)
                             .where(WebhookDeliveryRow.id.in_(ids))).all()
            return [(webhooks.to_delivery(d), _agent(a)) for d, a in rows]

    def record(self, delivery_id: str, *, ok: bool, error: str | None = None,
               base: timedelta = timedelta(seconds=10)) -> Delivery:
        """The attempt's result: delivered, or retried later (given up after a day)."""
        with self.ledger._tx() as s:
            row = s.get(WebhookDeliveryRow, delivery_id, with_for_update=True)
            if row is None:
                raise StoreError(f"no webhook delivery {delivery_id!r}")
            now = self.ledger._now(s)
            row.attempts += 1
            row.claimed_until = None
            if ok:
                row.status, row.delivered_at, row.next_attempt_at = DELIVERED, now, None
            elif now - row.created_at >= webhooks.GIVE_UP_AFTER:
                row.status, row.next_attempt_at = FAILED, None
            else:
                row.next_attempt_at = now + webhooks.backoff(row.attempts, base)
            row.last_error = error
            s.flush()
            return webhooks.to_delivery(row)

    def deliveries(self, *, agent: str | None = None, status: str | None = None,
             limit: int = 50) -> list[Delivery]:
        stmt = select(WebhookDeliveryRow).order_by(WebhookDeliveryRow.created_at.desc(),
                                                   WebhookDeliveryRow.id.desc())
        if agent is not None:
            stmt = stmt.where(WebhookDeliveryRow.agent == agent)
        if status is not None:
            stmt = stmt.where(WebhookDeliveryRow.status == status)
        with self.ledger._tx(write=False) as s:
            return [webhooks.to_delivery(r) for r in s.execute(stmt.limit(limit)).scalars()]

    def redeliver(self, delivery_id: str, *, actor: str = "operator") -> Delivery:
        """Send it again, now (the same event id: receivers still de-duplicate)."""
        with self.ledger._tx() as s:
            row = s.get(WebhookDeliveryRow, delivery_id, with_for_update=True)
            if row is None:
                raise StoreError(f"no webhook delivery {delivery_id!r} "
                                 "(see `signoff webhooks list`)")
            now = self.ledger._now(s)
            row.status, row.next_attempt_at, row.claimed_until = PENDING, now, None
            self.ledger._audit(s, row.ticket_id, "webhook_redeliver", actor, now,
                               delivery=delivery_id)
            s.flush()
            return webhooks.to_delivery(row)
