"""The engine over batch cards, on both databases: which steps share a thread post (members
of one batch card, due in the same sweep, same kind and level) and which never do (a
request on its own card, an expiry), and that nothing is lost when the batch cards cannot
be read. Slack's side is the recording notifier; see tests/e2e/test_batch_sweep.py for the
real one."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import pytest

from escalation.engine import EscalationEngine
from store.batches import BatchStore, similarity_key
from store.errors import StoreError
from store.ledger import Ledger
from store.models import SlackRef, Ticket
from store.sweep import SweepStore
from tests.escalation.engine_support import GROUPS, MIN, audit_kinds, config, open_ticket
from tests.escalation.recording_notifier import RecordingNotifier

BATCH_CARD = SlackRef(role="card", channel="C0PAYMENTS", ts="1700000000.000100")


class UnreadableBatches(SweepStore):
    """A store whose batch cards cannot be read (the database hiccups at that moment)."""

    def batch_cards(self, ticket_ids: Sequence[str]) -> dict[str, str]:
        raise StoreError("connection lost")


@pytest.fixture
def notifier() -> RecordingNotifier:
    return RecordingNotifier(groups=dict(GROUPS))


def engine(ledger: Ledger, notifier: RecordingNotifier, store: type[SweepStore] = SweepStore
           ) -> EscalationEngine:
    return EscalationEngine(store(ledger), config(), notifier, owner="replica-1")


def batched(ledger: Ledger, created: datetime, count: int, *,
            apart: timedelta = timedelta()) -> list[Ticket]:
    """``count`` tickets on one batch card, the first created at ``created``, each next one
    ``apart`` later."""
    tickets = [open_ticket(ledger, created=created + i * apart, card=False)
               for i in range(count)]
    batches = BatchStore(ledger)
    batch_id = ""
    for t in tickets:
        batch_id, _ = batches.join(t.id, similarity_key(t), max_members=10,
                                   window=60 * MIN, action=t.action)
    assert len(batches.link_card(batch_id, BATCH_CARD)) == count
    return [ledger.get_ticket(t.id) for t in tickets]


def test_members_due_together_share_one_reminder_and_one_note(
        ledger: Ledger, notifier: RecordingNotifier) -> None:
    created = ledger.db_now() - 20 * MIN
    members = batched(ledger, created, 3)
    alone = open_ticket(ledger, created=created)  # its own card: reminded on its own
    sweep = engine(ledger, notifier)
    report = sweep.tick(at=created + 5 * MIN)
    assert notifier.batch_reminders == [tuple(t.id for t in members)]
    assert [tid for tid, _ in notifier.reminders] == [alone.id]
    assert report.reminders == 4 and report.failures == 0
    sweep.tick(at=created + 10 * MIN)
    assert notifier.batch_notes == [(tuple(t.id for t in members), 1)]
    assert notifier.notes == [(alone.id, 1)]
    assert sorted(tid for tid, _, _ in notifier.dms) == sorted(t.id for t in [*members, alone])
    for t in members:  # each member's ledger is its own
        kinds = audit_kinds(ledger, t.id)
        assert (kinds["reminded"], kinds["escalated"]) == (1, 1)
        assert [m.user for m in ledger.get_ticket(t.id).messages if m.role == "dm"] == ["U0ONE"]


def test_members_not_due_at_once_are_reminded_apart(
        ledger: Ledger, notifier: RecordingNotifier) -> None:
    created = ledger.db_now() - 20 * MIN
    early, late = batched(ledger, created, 2, apart=MIN)
    sweep = engine(ledger, notifier)
    sweep.tick(at=created + 5 * MIN)
    sweep.tick(at=created + 6 * MIN)
    assert notifier.batch_reminders == []
    assert [tid for tid, _ in notifier.reminders] == [early.id, late.id]


def test_unreadable_batch_cards_leave_every_step_to_go_alone(
        ledger: Ledger, notifier: RecordingNotifier) -> None:
    created = ledger.db_now() - 20 * MIN
    members = batched(ledger, created, 3)
    report = engine(ledger, notifier, UnreadableBatches).tick(at=created + 5 * MIN)
    assert notifier.batch_reminders == []
    assert sorted(tid for tid, _ in notifier.reminders) == sorted(t.id for t in members)
    assert report.reminders == 3


def test_a_failed_shared_reminder_is_each_members_failure(
        ledger: Ledger, notifier: RecordingNotifier) -> None:
    notifier.fail["remind"] = ("message_not_found", False)
    created = ledger.db_now() - 20 * MIN
    members = batched(ledger, created, 3)
    report = engine(ledger, notifier).tick(at=created + 5 * MIN)
    assert report.failures == 3 and notifier.batch_reminders == []
    for t in members:
        kinds = audit_kinds(ledger, t.id)
        assert (kinds["reminded"], kinds["delivery_failed"]) == (1, 1)
