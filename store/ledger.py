"""The ledger: intent-named operations over tickets, each one guarded transaction.

Every state change is one conditional UPDATE (expected status and version, and for
decisions ``expires_at > now`` by the database's clock) inside a transaction that also
appends its audit event, so a change and its audit record commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, bindparam, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from store import audit, audit_seal, audit_verify, checkpoint, decide, tickets
from store.breakglass import BreakGlassMixin
from store.convert import to_decision, to_ticket
from store.db import (
    CLICK,
    QUICK_WRITE_MS,
    WRITE_OPTION,
    Transactions,
    check_schema,
    make_engine,
    now_of,
    quick_engine,
    sqlite_writer,
    writer_turn,
)
from store.decisions import IN_OWN_RIGHT, Capacity, Reroute
from store.errors import (
    ActionMismatch,
    ApprovalUnverifiable,
    ArgumentsMismatch,
    GrantNotAllowed,
    PlanStepRefused,
    StoreUnavailable,
    TicketNotFound,
    TransitionRefused,
)
from store.executions import EXECUTION_LEASE, ExecutionMixin
from store.grant_rows import create_grant
from store.grants import GrantSpec
from store.inbox import CLICK_MAX_AGE, InboxMixin, settle
from store.models import (
    PLAN_ACTION,
    AuditEvent,
    Decision,
    DecisionKind,
    Evidence,
    NewTicket,
    SlackRef,
    Ticket,
    TicketStatus,
    args_hash,
)
from store.states import Event
from store.tables import AuditHeadRow, AuditRow, DecisionRow, MessageData, TicketRow
from store.tickets import SYSTEM_ACTOR, Draft, OpenCap
from store.transition import transition

T = TypeVar("T")


def _acting(capacity: Capacity, acting_for: dict[str, str] | None) -> dict[str, Any]:
    """Audit fields of a delegate's decision (none for a decision in one's own right, so
    the trail of tickets nobody delegated on stays as it was)."""
    if capacity.on_behalf_of is None and not acting_for and not capacity.delegations:
        return {}
    return {"on_behalf_of": capacity.on_behalf_of, "acting_for": dict(acting_for or {}),
            "identities": sorted(capacity.identities),
            "delegations": sorted(capacity.delegations)}


_DECISIONS = DecisionRow.__table__.c
_DECISIONS_OF = (select(*_DECISIONS).where(_DECISIONS.ticket_id == bindparam("tid"))
                 .order_by(_DECISIONS.id))
_PROBE = text("UPDATE alembic_version SET version_num = version_num")


class Ledger(InboxMixin, ExecutionMixin, BreakGlassMixin):
    """The store's public face. Thread-safe; share one per process."""

    def __init__(self, engine: Engine, *, audit_key: bytes | None = None,
                 check: bool = True) -> None:
        if check:
            check_schema(engine)
        self.engine = engine
        #: ``with self._tx() as session``: one transaction (shared with :class:`SweepStore`).
        self.transactions = self._tx = Transactions(engine)
        self._audit_key = audit_key
        self._quick_engine = quick_engine(engine)
        self._quick_writer = sqlite_writer(engine)

    @classmethod
    def open(cls, url: str, *, audit_key: bytes | None = None, check: bool = True) -> Ledger:
        return cls(make_engine(url), audit_key=audit_key, check=check)

    def close(self) -> None:
        self.engine.dispose()
        self._quick_engine.dispose()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    # -- plumbing ---------------------------------------------------------------------

    @property
    def audit_key(self) -> bytes | None:
        return self._audit_key

    _now = staticmethod(now_of)

    def _quick(self, write: Callable[[Connection], T]) -> T:
        """Run ``write`` as one transaction that gives up after :data:`store.db.QUICK_WRITE_MS`
        instead of queueing (SQLite: a short busy timeout; PostgreSQL: a statement timeout,
        and autocommit, so a single statement is one round trip)."""
        try:
            if self.dialect == "sqlite":
                with writer_turn(self._quick_writer, QUICK_WRITE_MS / 1000, priority=CLICK), \
                        self._quick_engine.execution_options(**{WRITE_OPTION: True}).begin() as c:
                    return write(c)
            with self._quick_engine.connect() as c:
                return write(c)
        except DBAPIError as exc:
            raise StoreUnavailable(f"database error: {exc.orig}") from exc
        except SQLAlchemyError as exc:
            raise StoreUnavailable(f"database error: {exc}") from exc

    def read(self, read: Callable[[Connection], T], *, one_statement: bool = False) -> T:
        """``read(connection)`` in :meth:`store.db.Transactions.read`: Core statements
        without an ORM session, for the reads every agent request makes."""
        with self._tx.read(one_statement=one_statement) as conn:
            return read(conn)

    def db_now(self) -> datetime:
        with self._tx(write=False) as s:
            return self._now(s)

    def probe_write(self) -> datetime:
        """The database's clock, read in a write transaction that rewrites one row (the
        schema's version row, unchanged) and commits: a ledger that can read but not write
        (read-only file or replica, full disk) fails here, not on the next decision."""
        with self._tx() as s:
            s.execute(_PROBE)
            return self._now(s)

    @staticmethod
    def _lock(session: Session, ticket_id: str, *, for_agent: bool = False) -> TicketRow:
        """Lock the row; ``for_agent``: an agent's write, which never finds a canary."""
        row = session.execute(
            select(TicketRow).where(TicketRow.id == ticket_id).with_for_update()
        ).scalar_one_or_none()
        if row is None or (for_agent and row.canary is not None):
            raise TicketNotFound(ticket_id)
        return row

    def _audit(self, s: Session, ticket_id: str | None, kind: str, actor: str,
               at: datetime, *, new_ticket: bool = False, **data: Any) -> AuditEvent:
        """Append to ``ticket_id``'s chain: the caller holds its row lock (or created it)."""
        return audit.append(s, ticket_id=ticket_id, kind=kind, actor=actor, data=data,
                            at=at, key=self._audit_key, new_ticket=new_ticket)

    def _transition(self, s: Session, row: TicketRow, event: Event, **values: Any) -> None:
        """The guarded UPDATE (:func:`store.transition.transition`); ``row`` then reloads."""
        transition(s, row, event, **values)
        s.expire(row)

    # -- creating and reading ---------------------------------------------------------

    def create_ticket(self, new: Draft, *, at: datetime | None = None,
                      claim_as: str | None = None,
                      lease: timedelta = EXECUTION_LEASE,
                      cap: OpenCap | None = None) -> tuple[Ticket, bool]:
        """Open a ticket (or return the existing one for the same idempotency key).

        ``new`` is a :class:`NewTicket` or a function of the creation time that returns one:
        the database's clock, read once inside the creating transaction, so deadlines planned
        from it are measured from the ticket's own ``created_at``. Returns
        ``(ticket, created)``. ``at`` backdates creation (imports, time-travel tests).

        ``claim_as``: a ticket created already approved (policy allows it) is also claimed
        for execution by that actor in the same transaction, as :meth:`start_execution` would
        (one transaction instead of two, for calls that run at once). An existing ticket is
        never claimed here.

        ``cap``: a new ticket waiting for review is refused with :class:`OpenRequestsCapped`
        when its agent already has that many open (counted in this transaction).
        """
        resolved: NewTicket | None = None
        try:
            with self._tx() as s:
                now = at or self._now(s)
                resolved = tickets.resolve(new, now)
                ticket, created = self._create(s, resolved, now, cap)
                if created and claim_as is not None and ticket.status == TicketStatus.APPROVED:
                    ticket = self._claim_created(s, ticket.id, claim_as, now, lease)
                return ticket, created
        except IntegrityError:
            # A concurrent request with the same key won; hand back its ticket.
            if resolved is None:
                raise
            existing = self.find_by_idempotency_key(resolved.requested_by,
                                                    resolved.idempotency_key)
            if existing is None:
                raise
            tickets.same_request(existing.action, existing.args_hash, existing.id, resolved)
            return existing, False

    def _create(self, s: Session, new: NewTicket, now: datetime,
                cap: OpenCap | None = None) -> tuple[Ticket, bool]:
        """The ticket, or the one already made for its idempotency key (never refused by
        ``cap``: it is no new request)."""
        if new.idempotency_key is not None:
            found = s.execute(select(TicketRow).where(
                TicketRow.requested_by == new.requested_by,
                TicketRow.idempotency_key == new.idempotency_key,
            )).scalar_one_or_none()
            if found is not None:
                tickets.same_request(found.action, found.args_hash, found.id, new)
                return to_ticket(found, self._messages(s, found.id)), False
        if cap is not None and new.status == TicketStatus.PENDING:
            tickets.check_open_cap(s, cap)
        ticket = tickets.insert_ticket(s, new, now)
        self._audit(s, ticket.id, "created", new.agent or new.requested_by, now,
                    new_ticket=True, **tickets.created_data(new, ticket))
        return ticket, True

    def _claim_created(self, s: Session, ticket_id: str, actor: str, now: datetime,
                       lease: timedelta) -> Ticket:
        """The claim of a ticket this transaction created approved: its approval is the
        policy decision recorded a moment ago, in this very transaction."""
        row = self._lock(s, ticket_id)
        self._transition(s, row, Event.START_EXECUTION, execution_lease_until=now + lease)
        self._audit(s, ticket_id, "executing", actor, now, args_hash=row.final_args_hash,
                    lease_until=(now + lease).isoformat())
        return to_ticket(row, self._messages(s, ticket_id))

    def find_by_idempotency_key(self, requested_by: str, key: str | None) -> Ticket | None:
        with self._tx(write=False) as s:
            row = s.execute(select(TicketRow).where(
                TicketRow.requested_by == requested_by, TicketRow.idempotency_key == key,
            )).scalar_one_or_none()
            return None if row is None else to_ticket(row, self._messages(s, row.id))

    def get_ticket(self, ticket_id: str, *, for_agent: bool = False) -> Ticket:
        """``for_agent``: an agent's read, which never finds a canary."""
        with self._tx.read() as conn:  # the row and its messages, in one transaction
            return tickets.read_ticket(conn, ticket_id, for_agent=for_agent)

    def status_of(self, ticket_id: str, *, for_agent: bool = False) -> tuple[TicketStatus, int]:
        """Cheapest possible read (for ``wait()`` polling): status and version."""
        stmt = select(TicketRow.status, TicketRow.version).where(TicketRow.id == ticket_id)
        if for_agent:
            stmt = stmt.where(TicketRow.canary.is_(None))
        with self._tx(write=False) as s:
            found = s.execute(stmt).one_or_none()
            if found is None:
                raise TicketNotFound(ticket_id)
            return TicketStatus(found[0]), found[1]

    @staticmethod
    def _messages(s: Session, ticket_id: str) -> Sequence[MessageData]:
        return tickets.messages(s.connection(), ticket_id)

    def list_tickets(self, statuses: Iterable[TicketStatus] | None = None, *,
                     limit: int = 100) -> list[Ticket]:
        stmt = select(TicketRow).order_by(TicketRow.created_at.desc(), TicketRow.id.desc())
        if statuses is not None:
            stmt = stmt.where(TicketRow.status.in_([s.value for s in statuses]))
        with self._tx(write=False) as s:
            return [to_ticket(r) for r in s.execute(stmt.limit(limit)).scalars()]

    def decisions(self, ticket_id: str) -> list[Decision]:
        with self._tx.read() as conn:  # every card refresh reads them: Core, no session
            return [to_decision(r) for r in conn.execute(_DECISIONS_OF, {"tid": ticket_id})]

    # -- decisions --------------------------------------------------------------------

    def record_decision(self, ticket_id: str, *, reviewer: str, kind: DecisionKind,
                        reason: str | None = None, args: dict[str, Any] | None = None,
                        policy_version: str | None = None,
                        reroute: Reroute | None = None,
                        expected_version: int | None = None, click_id: int | None = None,
                        click_max_age: timedelta = CLICK_MAX_AGE,
                        capacity: Capacity | None = None,
                        grant: GrantSpec | None = None) -> tuple[Ticket, Decision]:
        """A reviewer's decision. The first valid one wins; losers get a typed error.

        ``reroute`` (edits only) applies what policy says about the edited arguments: a new
        route, tier and rule, and whether this reviewer's approval still counts under it.
        ``expected_version`` is the ticket version the reviewer's card or form showed: when
        the ticket has moved on since (other arguments, route or approvals), the decision is
        refused with :class:`ChangedSinceSeen`, checked under the same row lock as the write.
        ``capacity`` says whose authority a delegate decides with (both names are recorded),
        and who the click is one person with for counting distinct approvers; the
        delegations it relies on must still be active under the row lock, by the database's
        clock (:class:`DelegationEnded` otherwise, and nothing is recorded).
        ``grant`` (approvals only) also makes a standing grant, in the same transaction
        (:class:`GrantNotAllowed` records neither).
        """
        capacity = capacity or IN_OWN_RIGHT
        with self._tx(urgent=True) as s:
            row, now = decide.lock(s, ticket_id)
            capacity = decide.authority(s, row, now, reviewer, kind, capacity)
            update = decide.check(row, now, reviewer, kind, args, reroute, expected_version,
                                  capacity)
            after = decide.apply(s, row, now, update, reviewer)
            decision = decide.insert_decision(s, after, now, update, reviewer=reviewer,
                                              kind=kind, reason=reason,
                                              policy_version=policy_version, capacity=capacity)
            if click_id is not None:
                settle(s, click_id, now, decision.id, click_max_age)
            self._audit(s, ticket_id, update.audit_kind, reviewer, now, decision=kind.value,
                        reason=reason, args=update.decision_args, args_hash=update.decision_hash,
                        status=after.status, approvals=list(after.approvals),
                        approvals_required=int(after.route.get("approvals_required", 1)),
                        policy_version=decision.policy_version,
                        **_acting(capacity, after.acting_for))
            if grant is not None:
                if kind != DecisionKind.APPROVE:
                    raise GrantNotAllowed(ticket_id, "only an approval can make a grant")
                create_grant(s, after, reviewer, grant, now, self._audit_key, capacity)
            return to_ticket(after, tickets.messages(s.connection(), ticket_id)), decision

    def answer_info(self, ticket_id: str, *, actor: str, text: str,
                    evidence: Sequence[Evidence] = ()) -> Ticket:
        """The agent answers a reviewer's question; the ticket is pending again."""
        with self._tx() as s:
            row = self._lock(s, ticket_id, for_agent=True)
            now = self._now(s)
            merged = list(row.evidence) + [e.model_dump(mode="json") for e in evidence]
            self._transition(s, row, Event.ANSWER, evidence=merged)
            self._audit(s, ticket_id, "answered", actor, now, text=text,
                        evidence=[e.model_dump(mode="json") for e in evidence])
            return to_ticket(row, self._messages(s, ticket_id))

    def cancel(self, ticket_id: str, *, actor: str, reason: str) -> Ticket:
        """The agent withdraws its request (never a canary: no agent made one)."""
        with self._tx() as s:
            row = self._lock(s, ticket_id, for_agent=True)
            now = self._now(s)
            self._transition(s, row, Event.CANCEL, decided_by=actor, decided_at=now)
            self._audit(s, ticket_id, "cancelled", actor, now, reason=reason)
            return to_ticket(row, self._messages(s, ticket_id))

    def expire(self, ticket_id: str, *, actor: str = SYSTEM_ACTOR) -> Ticket:
        """Expire an open ticket whose deadline has passed by the database's clock."""
        with self._tx(urgent=True) as s:
            row = self._lock(s, ticket_id)
            now = self._now(s)
            if TicketStatus(row.status).is_open and now < row.expires_at:
                raise TransitionRefused(row.id, "expire", row.status,
                                        detail=f"its deadline is {row.expires_at.isoformat()}")
            self._transition(s, row, Event.EXPIRE, decided_by=actor, decided_at=now,
                             next_action_at=None)
            self._audit(s, ticket_id, "expired", actor, now,
                        expires_at=row.expires_at.isoformat(),
                        note="nobody decided in time; nothing was executed")
            return to_ticket(row, self._messages(s, ticket_id))

    # -- execution --------------------------------------------------------------------

    def start_execution(self, ticket_id: str, *, action: str, args: dict[str, Any],
                        actor: str, lease: timedelta = EXECUTION_LEASE) -> Ticket:
        """Consume the approval once. Refuses canaries outright (there is no tool behind a
        test request), another action than the approved one, arguments that are not the
        approved ones, and an approval its own audit events do not show
        (:class:`ApprovalUnverifiable`); a refusal is audited and consumes nothing.

        The executor has ``lease`` to report the outcome; after it the sweep marks the ticket
        ``outcome_unknown`` (:meth:`lose_executions`) for a human to resolve."""
        offered = args_hash(args)
        refused: (ActionMismatch | ArgumentsMismatch | ApprovalUnverifiable | TicketNotFound
                  | PlanStepRefused)
        with self._tx() as s:
            row = self._lock(s, ticket_id)
            now = self._now(s)
            unbacked = (audit_verify.backing_problems(s, row, self._audit_key)
                        if row.status == TicketStatus.APPROVED else [])
            if row.canary is not None:
                self._audit(s, ticket_id, "execution_refused", actor, now, offered_hash=offered,
                            canary=row.canary, note="a canary (test request) never executes")
                refused = TicketNotFound(ticket_id)
            elif row.action == PLAN_ACTION:
                self._audit(s, ticket_id, "execution_refused", actor, now,
                            offered_action=action, note="a plan never runs as a whole")
                refused = PlanStepRefused(ticket_id, "a plan never runs as a whole: run its "
                                                     "steps in order with client.run_step()")
            elif row.status == TicketStatus.APPROVED and action != row.action:
                self._audit(s, ticket_id, "execution_refused", actor, now,
                            offered_action=action, approved_action=row.action)
                refused = ActionMismatch(ticket_id, row.action, action)
            elif row.status == TicketStatus.APPROVED and offered != row.final_args_hash:
                self._audit(s, ticket_id, "execution_refused", actor, now,
                            offered_hash=offered, approved_hash=row.final_args_hash)
                refused = ArgumentsMismatch(ticket_id, row.final_args_hash, offered)
            elif unbacked:
                self._audit(s, ticket_id, "execution_refused", actor, now,
                            offered_hash=offered, approval_unverifiable=unbacked)
                refused = ApprovalUnverifiable(ticket_id, unbacked)
            else:
                self._transition(s, row, Event.START_EXECUTION,
                                 execution_lease_until=now + lease)
                self._audit(s, ticket_id, "executing", actor, now, args_hash=offered,
                            lease_until=(now + lease).isoformat())
                return to_ticket(row, self._messages(s, ticket_id))
        raise refused  # after commit, so the refusal stays on the record

    def finish_execution(self, ticket_id: str, *, ok: bool, actor: str,
                         summary: str | None = None, error: str | None = None) -> Ticket:
        with self._tx() as s:
            row = self._lock(s, ticket_id)
            now = self._now(s)
            event = Event.FINISH_OK if ok else Event.FINISH_FAILED
            late = row.status == TicketStatus.OUTCOME_UNKNOWN  # reported after its lease
            self._transition(s, row, event, outcome_ok=ok, outcome_summary=summary,
                             outcome_error=error, outcome_at=now)
            self._audit(s, ticket_id, "executed" if ok else "failed", actor, now,
                        summary=summary, error=error, **({"late": True} if late else {}))
            return to_ticket(row, self._messages(s, ticket_id))

    # -- Slack delivery and free-form audit ---------------------------------------------

    def record_message(self, ticket_id: str, ref: SlackRef, *, actor: str = SYSTEM_ACTOR,
                       audit_kind: str = "posted", shown_version: int | None = None,
                       **data: Any) -> Ticket:
        """Remember a message posted about a ticket (the card, a DM, a thread reply).
        A new card records ``shown_version``: the ticket version it was rendered from."""
        with self._tx() as s:
            row = self._lock(s, ticket_id)
            now = self._now(s)
            if ref.role == "card":
                row.card_channel, row.card_ts = ref.channel, ref.ts
                row.shown_version = shown_version
            tickets.insert_message(s, ticket_id, ref, now)
            self._audit_message(s, ticket_id, ref, audit_kind, actor, now, **data)
            s.flush()
            return to_ticket(row, self._messages(s, ticket_id))

    def record_card(self, ticket: Ticket, ref: SlackRef, *,
                    actor: str = SYSTEM_ACTOR) -> Ticket:
        """``record_message`` for the card just posted for ``ticket``, audited as ``posted``.

        Returns ``ticket`` with its card, without reading the row back, unless the row has
        changed since ``ticket`` was read (then the row as it now stands).
        """
        if ref.role != "card":
            raise ValueError(f"record_card records a card, not a {ref.role!r} message")
        with self._tx(urgent=True) as s:  # its card is visible: a click may come any moment
            now, unchanged = tickets.set_card(s, ticket, ref)
            tickets.insert_message(s, ticket.id, ref, now)
            if unchanged:
                out = ticket.model_copy(update={"card": ref, "messages": (*ticket.messages, ref),
                                                "shown_version": ticket.version})
            else:
                out = to_ticket(self._lock(s, ticket.id), self._messages(s, ticket.id))
            self._audit_message(s, ticket.id, ref, "posted", actor, now)
            return out

    def _audit_message(self, s: Session, ticket_id: str, ref: SlackRef, kind: str, actor: str,
                       now: datetime, **data: Any) -> None:
        self._audit(s, ticket_id, kind, actor, now, role=ref.role, channel=ref.channel,
                    ts=ref.ts, user=ref.user, **data)

    def mark_shown(self, ticket_id: str, version: int) -> bool:
        """The card and the current chain's DM copies now show ``version``: recorded only
        while the ticket is still at that version. False when it has moved on since it was
        rendered (a ``chat.update`` of that render may have landed after a newer one, so the
        caller renders again); the sweep re-renders whatever stays behind."""
        with self._tx.write() as conn:
            return tickets.mark_shown(conn, ticket_id, version)

    def mark_delivery_failed(self, ticket_id: str, *, target: str, error: str,
                             actor: str = SYSTEM_ACTOR) -> Ticket:
        """The card never reached Slack: audit it and make the chain start right away."""
        with self._tx() as s:
            row = self._lock(s, ticket_id)
            now = self._now(s)
            if TicketStatus(row.status).is_open:
                row.next_action_at = now
            self._audit(s, ticket_id, "delivery_failed", actor, now, role="card",
                        target=target, error=error)
            s.flush()
            return to_ticket(row, self._messages(s, ticket_id))

    def record_event(self, ticket_id: str | None, kind: str, *, actor: str = SYSTEM_ACTOR,
                     **data: Any) -> AuditEvent:
        """Append an audit event that changes no ticket (delivery_failed, reminded...)."""
        with self._tx() as s:
            if ticket_id is not None:
                self._lock(s, ticket_id)  # one writer at a time on the ticket's chain
            return self._audit(s, ticket_id, kind, actor, self._now(s), **data)

    # -- audit --------------------------------------------------------------------------

    def audit_events(self, *, ticket_id: str | None = None, since: datetime | None = None,
                     batch: int = 1000) -> Iterator[AuditEvent]:
        last = 0
        while True:
            stmt = select(AuditRow).where(AuditRow.seq > last)
            if ticket_id is not None:
                stmt = stmt.where(AuditRow.ticket_id == ticket_id)
            if since is not None:
                stmt = stmt.where(AuditRow.at >= since)
            with self._tx(write=False) as s:
                rows = s.execute(stmt.order_by(AuditRow.seq).limit(batch)).scalars().all()
                events = [audit.to_event(r) for r in rows]
            if not events:
                return
            yield from events
            last = events[-1].seq

    def verify_audit(self, checkpoints: Sequence[checkpoint.Checkpoint] = ()
                     ) -> audit_verify.VerifyReport:
        """Check the whole trail (see :mod:`store.audit_verify`), and that each checkpoint's
        seal is still in the chain with the same hash. Reads one snapshot on PostgreSQL."""
        with self._tx(write=False) as s:
            if self.dialect == "postgresql":
                s.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            report = audit_verify.verify(s, key=self._audit_key)
            if report.key_missing is None:
                checkpoint.check(s, checkpoints, key=self._audit_key, report=report)
            return report

    def seal_audit(self, *, batch: int = 2000) -> list[int]:
        """Seal every committed event not sealed yet into the global chain; their seqs
        (:func:`store.audit_seal.seal_pending`: replicas may call it at once)."""
        return audit_seal.seal_pending(self._tx, key=self._audit_key, batch=batch)

    def audit_checkpoint(self, database: str) -> checkpoint.Checkpoint:
        """Seal what has committed, then the chain's head, signed with the audit key."""
        self.seal_audit()
        with self._tx(write=False) as s:
            head = s.execute(select(AuditHeadRow).where(AuditHeadRow.id == 1)).scalar_one()
            cp = checkpoint.Checkpoint(seal=head.seq, hash=head.hash, at=self._now(s),
                                       database=database, key_id=audit.key_id(self._audit_key))
        return cp.signed(self._audit_key)
