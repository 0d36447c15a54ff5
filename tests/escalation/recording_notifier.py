"""A notifier that remembers what the engine asked it to send, and fails on request."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from escalation.notifier import DeliveryResult
from store.errors import DeliveryError
from store.models import SlackRef, Ticket


@dataclass
class RecordingNotifier:
    """A notifier that remembers what it was asked to send (engine tests, the sweep benchmark).

    ``fail`` maps a target (or ``"remind"``/``"expired"``) to an error and whether it is
    retryable; ``fail_times`` limits how many times each of those fails.
    """

    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    fail: dict[str, tuple[str, bool]] = field(default_factory=dict)
    fail_times: dict[str, int] = field(default_factory=dict)
    reminders: list[tuple[str, timedelta]] = field(default_factory=list)
    dms: list[tuple[str, int, str]] = field(default_factory=list)
    """``(ticket id, level, user)`` for every DM delivered."""
    notes: list[tuple[str, int]] = field(default_factory=list)
    expiries: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    """Tickets announced as ``outcome_unknown``."""
    attempts: list[tuple[str, str]] = field(default_factory=list)
    refreshed: list[str] = field(default_factory=list)
    batch_reminders: list[tuple[str, ...]] = field(default_factory=list)
    """The members named by each shared reminder of a batch card."""
    batch_notes: list[tuple[tuple[str, ...], int]] = field(default_factory=list)

    def resolve_group(self, group_id: str) -> Sequence[str]:
        if group_id not in self.groups:
            raise DeliveryError(f"no_such_subteam: {group_id}")
        return self.groups[group_id]

    def remind(self, ticket: Ticket, waited: timedelta) -> None:
        self._maybe_fail("remind", ticket.id)
        self.reminders.append((ticket.id, waited))

    def escalate(self, ticket: Ticket, level: int, targets: Sequence[str], *,
                 retry: bool = False) -> Sequence[DeliveryResult]:
        if not retry:
            self.notes.append((ticket.id, level))
        return [self._dm(ticket, level, target) for target in targets]

    def remind_batch(self, tickets: Sequence[Ticket], waited: Sequence[timedelta]) -> None:
        self._maybe_fail("remind", tickets[0].id)
        self.batch_reminders.append(tuple(t.id for t in tickets))

    def escalate_batch(self, tickets: Sequence[Ticket], level: int,
                       targets: Sequence[Sequence[str]]) -> Sequence[Sequence[DeliveryResult]]:
        self.batch_notes.append((tuple(t.id for t in tickets), level))
        return [[self._dm(t, level, u) for u in users] for t, users in
                zip(tickets, targets, strict=True)]

    def expired(self, ticket: Ticket) -> None:
        self._maybe_fail("expired", ticket.id)
        self.expiries.append(ticket.id)

    def refresh(self, ticket: Ticket) -> bool:
        try:
            self._maybe_fail("refresh", ticket.id)
        except DeliveryError:
            return False
        self.refreshed.append(ticket.id)
        return True

    def outcome_unknown(self, ticket: Ticket) -> None:
        self._maybe_fail("outcome_unknown", ticket.id)
        self.unknown.append(ticket.id)

    def _dm(self, ticket: Ticket, level: int, target: str) -> DeliveryResult:
        try:
            self._maybe_fail(target, ticket.id)
        except DeliveryError as exc:
            return DeliveryResult(target, False, str(exc), exc.retryable, exc.retry_after)
        self.dms.append((ticket.id, level, target))
        ref = SlackRef(role="dm", channel=f"D{target}", ts=f"{len(self.dms)}.000000",
                       user=target)
        return DeliveryResult(target, True, message=ref)

    def _maybe_fail(self, what: str, ticket_id: str) -> None:
        self.attempts.append((ticket_id, what))
        if what not in self.fail:
            return
        left = self.fail_times.get(what)
        if left is not None:
            if left <= 0:
                return
            self.fail_times[what] = left - 1
        error, retryable = self.fail[what]
        raise DeliveryError(error, retryable=retryable)
