"""SQLAlchemy tables of the ledger (typed ORM). Rows never leave ``store``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.engine import Row
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SHOWN_BEHIND = "shown_version < version"


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend.

    PostgreSQL keeps ``timestamptz``; SQLite keeps naive UTC text, which sorts and
    compares correctly against ``strftime('%Y-%m-%d %H:%M:%f','now')``.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("signoff stores aware datetimes only (got a naive one)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # a raw SQLite expression such as db_now()
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class TicketRow(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        UniqueConstraint("requested_by", "idempotency_key", name="uq_tickets_idempotency"),
        Index("ix_tickets_status_next_action", "status", "next_action_at"),
        Index("ix_tickets_status_expires", "status", "expires_at"),
        Index("ix_tickets_agent_status", "agent", "status"),
        Index("ix_tickets_canary_drawn", "canary_drawn"),
        # Only the few tickets whose surfaces are behind: what the sweep repairs.
        Index("ix_tickets_shown_behind", "id", sqlite_where=text(SHOWN_BEHIND),
              postgresql_where=text(SHOWN_BEHIND)),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    requested_by: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(200))
    args: Mapped[dict[str, Any]] = mapped_column(JSON)
    args_hash: Mapped[str] = mapped_column(String(64))
    final_args: Mapped[dict[str, Any]] = mapped_column(JSON)
    final_args_hash: Mapped[str] = mapped_column(String(64))
    review_type: Mapped[str] = mapped_column(String(20))
    summary: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text, default="")
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    confidence: Mapped[float | None] = mapped_column(Float)
    agent: Mapped[str | None] = mapped_column(String(200))
    run_id: Mapped[str | None] = mapped_column(String(200))
    tier: Mapped[str] = mapped_column(String(20))
    route: Mapped[dict[str, Any]] = mapped_column(JSON)
    policy_version: Mapped[str] = mapped_column(String(100))
    policy_rule: Mapped[str | None] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(20), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    approvals: Mapped[list[str]] = mapped_column(JSON)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_action_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    escalation_loop: Mapped[int] = mapped_column(Integer, default=0)
    # Bumped when an edit re-routes the ticket: older escalation steps were the old route's.
    escalation_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    escalation: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    args_schema: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    card_channel: Mapped[str | None] = mapped_column(String(64))
    card_ts: Mapped[str | None] = mapped_column(String(64))
    outcome_ok: Mapped[bool | None] = mapped_column(Boolean)
    outcome_summary: Mapped[str | None] = mapped_column(Text)
    outcome_error: Mapped[str | None] = mapped_column(Text)
    outcome_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A canary (a test request that must be rejected) names itself here; NULL otherwise.
    canary: Mapped[str | None] = mapped_column(String(100))
    canary_lesson: Mapped[str | None] = mapped_column(Text)
    # Real requests the canary draw has considered (each is drawn for once).
    canary_drawn: Mapped[bool | None] = mapped_column(Boolean)
    # The version the card and DM copies were last rendered at (NULL: nothing shown yet).
    shown_version: Mapped[int | None] = mapped_column(Integer)
    # Set when execution starts: past it, the sweep calls the outcome unknown.
    execution_lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Approvals counted now that a delegate gave for someone else: approver -> principal.
    acting_for: Mapped[dict[str, str] | None] = mapped_column(JSON)


class DecisionRow(Base):
    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id"), index=True)
    reviewer: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text)
    args: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    args_hash: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    policy_version: Mapped[str] = mapped_column(String(100))
    # The standing grant that approved in the reviewer's name (NULL: the reviewer clicked).
    grant_id: Mapped[str | None] = mapped_column(String(32))
    # A delegate's decision: the person whose authority it was made with.
    on_behalf_of: Mapped[str | None] = mapped_column(String(64))


class MessageRow(Base):
    __tablename__ = "ticket_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(64))
    ts: Mapped[str] = mapped_column(String(64))
    user: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    epoch: Mapped[int | None] = mapped_column(Integer)


#: A ticket row as the ORM loads it or as a Core statement returns it (same attribute names).
TicketData = TicketRow | Row[Any]
#: A message row, either way.
MessageData = MessageRow | Row[Any]


class EscalationStepRow(Base):
    """One step of a ticket's escalation, unique per (ticket, epoch, loop, level, step)."""

    __tablename__ = "escalation_steps"
    __table_args__ = (
        UniqueConstraint("ticket_id", "epoch", "loop", "level", "step",
                         name="uq_escalation_steps_key"),
        Index("ix_escalation_steps_retry", "status", "retry_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id"), index=True)
    epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    loop: Mapped[int] = mapped_column(Integer)
    level: Mapped[int] = mapped_column(Integer)
    step: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    owner: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16))
    targets: Mapped[list[str]] = mapped_column(JSON)
    pending: Mapped[list[str]] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)


class AuditRow(Base):
    """One audit event. ``seq`` is given at insert (a sequence: unique, not gapless, not in
    commit order); ``ticket_seq``/``prev_hash`` chain the events of one ticket, taken under
    the ticket's row lock; ``seal``/``seal_hash`` place the event in the global chain, given
    later by the sealer (see docs/audit.md)."""

    __tablename__ = "audit_events"
    __table_args__ = (
        UniqueConstraint("ticket_id", "ticket_seq", name="uq_audit_events_ticket_seq"),
        UniqueConstraint("seal", name="uq_audit_events_seal"),
        Index("ix_audit_events_unsealed", "seq", postgresql_where=text("seal IS NULL"),
              sqlite_where=text("seal IS NULL")),
    )

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str | None] = mapped_column(String(32))
    ticket_seq: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    data: Mapped[str] = mapped_column(Text)  # canonical JSON, exactly what was hashed
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str | None] = mapped_column(String(16))
    """Which ``SIGNOFF_AUDIT_KEY`` made ``hash`` an HMAC (None: plain SHA-256)."""
    chain_format: Mapped[int] = mapped_column(Integer, default=2, server_default="2")
    """1: written before per-ticket chains (``prev_hash`` is the global predecessor)."""
    seal: Mapped[int | None] = mapped_column(Integer)
    seal_hash: Mapped[str | None] = mapped_column(String(64))
    sealed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditHeadRow(Base):
    """One row: the newest seal's position and hash. The sealer locks it (one sealer at a
    time, across replicas); comparing it with the last seal exposes a cut-off tail."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


class AgentRow(Base):
    """An agent allowed to call the HTTP API: its token only as a SHA-256, its scope."""

    __tablename__ = "agents"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    actions: Mapped[list[str]] = mapped_column(JSON)
    max_pending: Mapped[int] = mapped_column(Integer)
    webhook_url: Mapped[str | None] = mapped_column(Text)
    webhook_secret: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    trusted_annotations: Mapped[bool] = mapped_column(Boolean, default=False,
                                                      server_default=false())


class SigningKeyRow(Base):
    """An Ed25519 key that signs approval receipts. ``private_pem`` is PKCS#8, encrypted
    with ``SIGNOFF_KEYS_PASSPHRASE`` when that is set. Retired keys stop signing and,
    once retired, no longer verify."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    private_pem: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    active: Mapped[bool] = mapped_column(Boolean)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RedemptionRow(Base):
    """A receipt redeemed online: the primary key makes the second redemption fail."""

    __tablename__ = "receipt_redemptions"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    ticket_id: Mapped[str] = mapped_column(String(32))
    redeemed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WebhookDeliveryRow(Base):
    """One event for one agent's webhook; delivered from the database by any replica."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    agent: Mapped[str] = mapped_column(String(100), index=True)
    ticket_id: Mapped[str] = mapped_column(String(32))
    event: Mapped[str] = mapped_column(String(40))
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class PolicyVersionRow(Base):
    """Every policy that decided requests, by version: the exact rules an audit can show."""

    __tablename__ = "policy_versions"

    version: Mapped[str] = mapped_column(String(100), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64))
    """SHA-256 of the canonical policy JSON: a version reused for other rules shows up."""
    policy: Mapped[dict[str, Any]] = mapped_column(JSON)
    first_applied_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ClickRow(Base):
    """A reviewer's decision click, written before Slack gets its ack (the click inbox).

    Every row ends ``decided`` (in the same transaction as its decision) or ``told`` (the
    clicker was told it did not count, and why); ``pending`` rows are replayed.
    """

    __tablename__ = "click_inbox"
    __table_args__ = (Index("ix_click_inbox_status_claim", "status", "claimed_until"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(String(64))
    user: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text)
    args: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    shown_version: Mapped[int | None] = mapped_column(Integer)
    channel: Mapped[str | None] = mapped_column(String(64))
    message_ts: Mapped[str | None] = mapped_column(String(64))
    response_url: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_id: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)
    # An approval that also grants similar requests for a while (store.grants.GrantSpec).
    grant_spec: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class GrantRow(Base):
    """A time-boxed standing approval: a reviewer's approval of one ticket extended to
    similar requests (same action, agent, requester and route; arguments within
    ``bounds``) until ``expires_at``, at most ``max_uses`` times. ``uses`` only grows, by
    one guarded UPDATE per approval (see store/grants.py)."""

    __tablename__ = "grants"
    __table_args__ = (Index("ix_grants_match", "action", "requested_by"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    ticket_id: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(200))
    agent: Mapped[str | None] = mapped_column(String(200))
    requested_by: Mapped[str] = mapped_column(String(64))
    route: Mapped[str] = mapped_column(String(100))
    channel: Mapped[str | None] = mapped_column(String(64))
    thread_ts: Mapped[str | None] = mapped_column(String(64))
    bounds: Mapped[dict[str, Any]] = mapped_column(JSON)
    max_uses: Mapped[int] = mapped_column(Integer)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    granted_by: Mapped[str] = mapped_column(String(64))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_by: Mapped[str | None] = mapped_column(String(64))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    policy_version: Mapped[str] = mapped_column(String(100))
    # An end-of-day grant: the time zone (as its form named it) whose day it ends with.
    zone: Mapped[str | None] = mapped_column(String(64))
    # A delegate's grant: whose authority it carries, and the delegation that lent it (the
    # grant matches only while that delegation is active).
    on_behalf_of: Mapped[str | None] = mapped_column(String(64))
    delegation_id: Mapped[int | None] = mapped_column(Integer)


class BreakGlassRow(Base):
    """A request run by break-glass: who broke it and why, and whether a second person
    witnessed it in time. One per ticket (a ticket is decided once). While unwitnessed,
    ``next_escalation_at`` is when the sweep DMs the next level of the route's chain."""

    __tablename__ = "break_glass"
    __table_args__ = (Index("ix_break_glass_due", "next_escalation_at"),)

    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id"), primary_key=True)
    responder: Mapped[str] = mapped_column(String(64))
    justification: Mapped[str] = mapped_column(Text)
    rule: Mapped[str] = mapped_column(String(300))
    broken_at: Mapped[datetime] = mapped_column(UTCDateTime)
    witness_due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    witnessed_by: Mapped[str | None] = mapped_column(String(64))
    witnessed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    """Levels of the chain DM'd about it being unwitnessed (0: none yet)."""
    next_escalation_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    security_channel: Mapped[str | None] = mapped_column(String(64))
    security_ts: Mapped[str | None] = mapped_column(String(64))


class DelegationRow(Base):
    """A reviewer's authority lent to ``delegate`` from ``starts_at`` until ``ends_at`` (or
    until revoked). Never chained: the delegate holds only the principal's own authority."""

    __tablename__ = "delegations"
    __table_args__ = (
        Index("ix_delegations_delegate_ends", "delegate", "ends_at"),
        Index("ix_delegations_principal_ends", "principal", "ends_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    principal: Mapped[str] = mapped_column(String(64))
    delegate: Mapped[str] = mapped_column(String(64))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by: Mapped[str | None] = mapped_column(String(64))


class PlanRow(Base):
    """A plan's ticket (action ``signoff.plan``) and how its steps may run: the time they have
    after approval, and why the plan ended (``done``, ``failed``, ``stopped``, ``expired``)."""

    __tablename__ = "plans"

    ticket_id: Mapped[str] = mapped_column(String(32), ForeignKey("tickets.id"),
                                           primary_key=True)
    deadline_s: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended: Mapped[str | None] = mapped_column(String(20))
    ended_by: Mapped[str | None] = mapped_column(String(100))
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PlanStepRow(Base):
    """One step of a plan that started (or never will): the primary key makes each step
    start once, whoever races for it."""

    __tablename__ = "plan_steps"

    ticket_id: Mapped[str] = mapped_column(String(32), ForeignKey("plans.ticket_id"),
                                           primary_key=True)
    idx: Mapped[int] = mapped_column(Integer, primary_key=True)
    action: Mapped[str] = mapped_column(String(200))
    args_sha256: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    summary: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)


# Batch review's tables live in their own module; importing it here puts them in
# ``Base.metadata`` wherever the ledger's tables are known.
from store import batch_tables as _batch_tables  # noqa: E402,F401
