"""No acknowledged click is ever lost: each ends in a decision or a message to the clicker.

A real ``signoff serve`` is killed with SIGKILL right after it acked signed clicks (the
test-only ``SIGNOFF_TEST_HOLD_CLICKS`` holds each decision after its ack, so the kill lands
in that window every time), then started again; the database failing before or after the
ack ends in a message the clicker sees. SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, make_url, text

from bot.render import ACTION_APPROVE, ACTION_REJECT, REASON_BLOCK
from bot.server.compose import SlackAccess, compose
from bot.slack.clicks import ClickInbox
from store.db import normalise_url
from store.inbox import ClickStatus
from store.ledger import Ledger
from store.models import DecisionKind, TicketStatus
from tests.e2e.conftest import SECRET, Rig
from tests.e2e.test_reviews import refund
from tests.e2e.test_serve import _env


@contextmanager
def serve(rig: Rig, db_url: str, **env: str) -> Iterator[subprocess.Popen[str]]:
    """``signoff serve`` as users run it, with the sandbox's clicks pointed at it."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", "0"],
        env=_env(rig.sandbox, db_url, **env), text=True,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"on (http://\S+) ", line)
    assert match, line
    rig.sandbox.set_request_url(f"{match.group(1)}/slack/events")
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def told(rig: Rig, user: str, needle: str) -> list[str]:
    return [m.text for m in rig.sandbox.ephemerals(user) if needle in m.text]


@pytest.mark.slow
def test_clicks_acked_before_a_kill_are_decided_or_answered_after_restart(
        rig: Rig, db_url: str) -> None:
    tickets = [refund(rig, amount=100 + i) for i in range(6)]
    with serve(rig, db_url, SIGNOFF_TEST_HOLD_CLICKS="60") as proc:
        acked = []
        for ticket in tickets[:5]:
            result = rig.sandbox.click("U0PAYLEAD", action_id=ACTION_APPROVE,
                                       channel="C0PAYMENTS", message_ts=rig.card_ts(ticket.id))
            assert result.ok, result.error
            acked.append(ticket.id)
        opened = rig.sandbox.click("U0FINOPS", action_id=ACTION_REJECT, channel="C0PAYMENTS",
                                   message_ts=rig.card_ts(tickets[5].id))
        assert opened.ok
        rig.sandbox.wait_until(lambda: rig.sandbox.views("U0FINOPS"))
        done = rig.sandbox.submit("U0FINOPS", {REASON_BLOCK: {"signoff_reason_value":
                                                              "duplicate request"}})
        assert done.ok and done.response_action is None
        proc.kill()  # SIGKILL: every click above was acked, none decided yet
        proc.wait()
    assert all(rig.ledger.decisions(t.id) == [] for t in tickets)
    assert len(rig.ledger.clicks(ClickStatus.PENDING)) == 6
    # Meanwhile the agent withdrew one request: that click can no longer count.
    rig.client.cancel(tickets[4].id, "customer called back")

    with serve(rig, db_url):
        rig.sandbox.wait_until(lambda: not rig.ledger.clicks(ClickStatus.PENDING), timeout=30)
    for ticket_id in acked[:4]:
        assert rig.ledger.get_ticket(ticket_id).status == TicketStatus.APPROVED
        assert [d.reviewer for d in rig.ledger.decisions(ticket_id)] == ["U0PAYLEAD"]
    rejected = rig.ledger.get_ticket(tickets[5].id)
    assert rejected.status == TicketStatus.REJECTED and rejected.decided_by == "U0FINOPS"
    assert rig.ledger.decisions(tickets[4].id) == []
    assert told(rig, "U0PAYLEAD", "cancel")  # the click on the withdrawn request: answered
    ends = sorted(c.status for c in rig.ledger.clicks())
    assert ends == [ClickStatus.DECIDED] * 5 + [ClickStatus.TOLD]


# -- the database failing ------------------------------------------------------------------


@contextmanager
def bot(ledger: Ledger, rig: Rig, **inbox: Any) -> Iterator[ClickInbox]:
    """A second bot on the rig's sandbox, whose click inbox the test tunes."""
    access = SlackAccess(rig.sandbox.bot_token, rig.sandbox.api_url, SECRET)
    service = compose(rig.config, ledger, access, owner="tuned", owns_ledger=False,
                      hold_clicks=inbox.pop("hold", 0.0))
    assert service.inbox is not None
    for name, value in inbox.items():
        setattr(service.inbox.reviews if name == "click_max_age" else service.inbox, name,
                value)
    server = service.serve_http("127.0.0.1", 0).start()
    rig.sandbox.set_request_url(f"{server.url}/slack/events")
    try:
        yield service.inbox
    finally:
        service.close()


@contextmanager
def writes_blocked(db_url: str) -> Iterator[None]:
    """Another session holds the write lock (SQLite) or the inbox's table lock."""
    if db_url.startswith("sqlite"):
        conn = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()
        return
    engine = create_engine(normalise_url(db_url))
    try:
        with engine.begin() as conn:
            conn.execute(text("LOCK TABLE click_inbox IN ACCESS EXCLUSIVE MODE"))
            yield
    finally:
        engine.dispose()


@contextmanager
def tables_gone(db_url: str, *names: str) -> Iterator[None]:
    """Every read and write of these tables fails (an outage the driver reports at once)."""
    engine = create_engine(normalise_url(db_url))
    try:
        with engine.begin() as conn:
            for name in names:
                conn.execute(text(f"ALTER TABLE {name} RENAME TO {name}_away"))
        yield
    finally:
        with engine.begin() as conn:
            for name in names:
                conn.execute(text(f"ALTER TABLE {name}_away RENAME TO {name}"))
        engine.dispose()


def test_a_click_the_database_cannot_take_is_answered_and_changes_nothing(
        rig: Rig, db_url: str) -> None:
    ticket = refund(rig)
    with bot(rig.ledger, rig), writes_blocked(db_url):
        result = rig.sandbox.click("U0PAYLEAD", action_id=ACTION_APPROVE, channel="C0PAYMENTS")
        assert result.status == 200 and result.elapsed < 3
        assert told(rig, "U0PAYLEAD", "did not count")
    assert rig.ledger.clicks() == [] and rig.ledger.decisions(ticket.id) == []
    assert rig.ledger.get_ticket(ticket.id).status == TicketStatus.PENDING


def test_a_submission_the_database_cannot_take_shows_an_error_in_the_modal(
        rig: Rig, db_url: str) -> None:
    ticket = refund(rig)
    with bot(rig.ledger, rig):
        assert rig.sandbox.click("U0PAYLEAD", action_id=ACTION_REJECT,
                                 channel="C0PAYMENTS").ok
        rig.sandbox.wait_until(lambda: rig.sandbox.views("U0PAYLEAD"))
        with writes_blocked(db_url):
            done = rig.sandbox.submit("U0PAYLEAD", {REASON_BLOCK: {"signoff_reason_value":
                                                                   "not needed"}})
        assert done.response_action == "errors"
        assert "could not record" in done.errors[REASON_BLOCK]
    assert rig.ledger.decisions(ticket.id) == []


def test_a_database_failing_after_the_ack_ends_in_a_message_never_a_late_decision(
        rig: Rig, db_url: str, caplog: pytest.LogCaptureFixture) -> None:
    ticket = refund(rig)
    with bot(rig.ledger, rig, hold=1.0, click_max_age=timedelta(seconds=1), retry_every=0.2,
             skew_margin=timedelta(seconds=0.5), lease=timedelta(seconds=0.5)) as clicks:
        assert rig.sandbox.click("U0PAYLEAD", action_id=ACTION_APPROVE,
                                 channel="C0PAYMENTS").ok  # written and acked; held
        with tables_gone(db_url, "tickets", "click_inbox"):
            rig.sandbox.wait_until(lambda: told(rig, "U0PAYLEAD", "did not count"),
                                   timeout=15)
            rig.sandbox.wait_until(lambda: "could not note it" in caplog.text)
        assert [c.status for c in rig.ledger.clicks()] == [ClickStatus.PENDING]
        # The database is back, and the click still pending: it is too old to count now.
        rig.sandbox.wait_until(lambda: (clicks.replay() and None) or
                               rig.ledger.clicks(ClickStatus.TOLD), timeout=10)
    assert rig.ledger.decisions(ticket.id) == []
    assert rig.ledger.get_ticket(ticket.id).status == TicketStatus.PENDING
    assert len(told(rig, "U0PAYLEAD", "did not count")) == 2


def test_a_dropped_connection_after_the_ack_loses_nothing(rig: Rig, db_url: str) -> None:
    if db_url.startswith("sqlite"):
        pytest.skip("PostgreSQL connections only")
    ticket = refund(rig)
    name = f"signoff-test-{uuid.uuid4().hex[:8]}"
    url = make_url(db_url).update_query_dict({"application_name": name})
    ledger = Ledger.open(url.render_as_string(hide_password=False))
    with bot(ledger, rig, hold=0.5):
        assert rig.sandbox.click("U0PAYLEAD", action_id=ACTION_APPROVE,
                                 channel="C0PAYMENTS").ok
        admin = create_engine(normalise_url(db_url))
        with admin.begin() as conn:  # the bot's sessions, while its click is held
            killed = conn.execute(text("SELECT pg_terminate_backend(pid) FROM "
                                       "pg_stat_activity WHERE application_name = :n"),
                                  {"n": name}).all()
        admin.dispose()
        assert killed
        rig.sandbox.wait_until(lambda: rig.ledger.decisions(ticket.id), timeout=15)
    ledger.close()
    assert rig.ledger.get_ticket(ticket.id).status == TicketStatus.APPROVED
    assert [c.status for c in rig.ledger.clicks()] == [ClickStatus.DECIDED]
    assert rig.ledger.decisions(ticket.id)[0].kind == DecisionKind.APPROVE
