""""Until end of day" end to end: signed clicks and submissions through the real Bolt app and
the sandbox, whose users.info carries each reviewer's Slack time zone. The grant ends at
midnight in the reviewer's own zone; the form and the thread name it; a zone Slack cannot
tell is UTC, and the form says so; a day about to end is refused under the choice."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.cli import main
from bot.render.grant import ACTION_GRANT, SPAN_ACTION, SPAN_BLOCK, USES_ACTION, USES_BLOCK
from bot.sandbox import View
from bot.sandbox.records import SubmissionResult
from store.grant_store import GrantStore
from store.grants import end_of_day
from store.models import Ticket, TicketStatus
from tests.e2e.conftest import Rig
from tests.e2e.test_grants import thread_texts
from tests.e2e.test_reviews import refund, settled

LEAD = "U0PAYLEAD"


def open_form(rig: Rig, ticket: Ticket) -> View:
    before = len(rig.sandbox.views(LEAD))
    assert rig.sandbox.click(LEAD, action_id=ACTION_GRANT, channel="C0PAYMENTS",
                             message_ts=rig.card_ts(ticket.id)).ok
    return rig.sandbox.wait_until(lambda: (v := rig.sandbox.views(LEAD)) and
                                  len(v) > before and v[-1])


def submit_eod(rig: Rig) -> tuple[SubmissionResult, datetime, datetime]:
    before = datetime.now(UTC)
    done = rig.sandbox.submit(LEAD, {SPAN_BLOCK: {SPAN_ACTION: "eod"},
                                     USES_BLOCK: {USES_ACTION: "3"}})
    return done, before, datetime.now(UTC)


def far_from_midnight(*names: str) -> str:
    """The first zone whose day has more than an hour left and began over an hour ago."""
    now = datetime.now(UTC)
    return next(n for n in names
                if 1 <= now.astimezone(ZoneInfo(n)).hour < 23)


def offset_at(local: timedelta) -> int:
    """A UTC offset (whole minutes, within ±12 h) at which the local time is ``local``."""
    now = datetime.now(UTC)
    since_midnight = now - now.replace(hour=0, minute=0, second=0, microsecond=0)
    shift = (local - since_midnight) % timedelta(days=1)
    if shift > timedelta(hours=12):
        shift -= timedelta(days=1)
    return int(shift.total_seconds()) // 60 * 60


def test_end_of_day_is_midnight_in_the_reviewers_own_time_zone(
        rig: Rig, db_url: str, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # San Francisco or Tokyo, whichever is not near its midnight right now (one never is).
    name = far_from_midnight("America/Los_Angeles", "Asia/Tokyo")
    rig.sandbox.set_time_zone(LEAD, name)
    ticket = refund(rig, 120)
    form = open_form(rig, ticket)
    assert f"until end of day (23:59 {name})" in json.dumps(form.data)
    done, before, after = submit_eod(rig)
    assert done.ok and done.response_action is None, done.errors
    assert settled(rig, ticket.id).status == TicketStatus.APPROVED
    [grant] = GrantStore(rig.ledger).for_ticket(ticket.id)
    zone = ZoneInfo(name)
    assert grant.expires_at in (end_of_day(before, zone), end_of_day(after, zone))
    local_end = grant.expires_at.astimezone(zone)
    assert (local_end.hour, local_end.minute) == (0, 0)
    assert grant.expires_at.astimezone(UTC).hour != 0  # not midnight UTC
    assert grant.zone == name
    rig.sandbox.wait_until(
        lambda: f"until the end of the day in {name}" in thread_texts(rig, ticket))
    assert refund(rig, 100).status == TicketStatus.APPROVED  # and it approves meanwhile
    monkeypatch.setenv("SIGNOFF_DATABASE_URL", db_url)
    assert main(["grants", "list"]) == 0
    assert f"(end of day in {name})" in capsys.readouterr().out


def test_a_zone_slack_gives_only_as_an_offset_ends_the_day_at_that_offset(rig: Rig) -> None:
    offset = offset_at(timedelta(hours=12))  # noon there
    rig.sandbox.set_time_zone(LEAD, None, tz_label="", tz_offset=offset)
    ticket = refund(rig, 120)
    shown = json.dumps(open_form(rig, ticket).data)
    sign = "-" if offset < 0 else "+"
    label = f"UTC{sign}{abs(offset) // 3600:02d}:{abs(offset) // 60 % 60:02d}"
    assert f"23:59 {label}, your Slack offset" in shown
    done, before, after = submit_eod(rig)
    assert done.ok and done.response_action is None, done.errors
    settled(rig, ticket.id)
    [grant] = GrantStore(rig.ledger).for_ticket(ticket.id)
    fixed = timezone(timedelta(seconds=offset))
    assert grant.expires_at in (end_of_day(before, fixed), end_of_day(after, fixed))
    assert grant.zone == label


def test_a_day_ending_in_minutes_is_refused_under_the_choice(rig: Rig) -> None:
    rig.sandbox.set_time_zone(LEAD, None, tz_label="",
                              tz_offset=offset_at(timedelta(hours=23, minutes=58)))
    ticket = refund(rig, 120)
    open_form(rig, ticket)
    done, _, _ = submit_eod(rig)
    assert done.response_action == "errors"
    assert "too soon for a grant" in done.errors[SPAN_BLOCK]
    assert "Choose 30 min or 2 h" in done.errors[SPAN_BLOCK]
    assert rig.ledger.decisions(ticket.id) == [] and GrantStore(rig.ledger).listed() == []
    # The same form still works with another choice.
    again = rig.sandbox.submit(LEAD, {SPAN_BLOCK: {SPAN_ACTION: "30m"},
                                      USES_BLOCK: {USES_ACTION: "3"}})
    assert again.ok and again.response_action is None, again.errors
    assert settled(rig, ticket.id).status == TicketStatus.APPROVED


@pytest.mark.parametrize("fault", [{"error": "fatal_error"}, {"delay": 2.0}])
def test_when_slack_cannot_tell_the_zone_the_form_says_utc_and_means_it(
        rig: Rig, fault: dict[str, object]) -> None:
    now = datetime.now(UTC)
    if end_of_day(now, UTC) - now < timedelta(minutes=10):
        pytest.skip("the UTC day ends within minutes: the choice would be refused")
    rig.sandbox.set_time_zone(LEAD, "Asia/Tokyo")
    ticket = refund(rig, 120)
    rig.sandbox.inject_fault("users.info", **fault)  # type: ignore[arg-type]
    shown = json.dumps(open_form(rig, ticket).data)
    assert "23:59 UTC: your Slack time zone could not be read" in shown
    done, before, _ = submit_eod(rig)
    assert done.ok and done.response_action is None, done.errors
    settled(rig, ticket.id)
    [grant] = GrantStore(rig.ledger).for_ticket(ticket.id)
    assert grant.expires_at == end_of_day(before, UTC) and grant.zone == "UTC"


def test_the_zone_is_read_once_for_forms_opened_in_a_row(rig: Rig) -> None:
    rig.sandbox.set_time_zone(LEAD, "Europe/Berlin")
    first, second = refund(rig, 120), refund(rig, 110)
    open_form(rig, first)
    rig.sandbox.close_view(LEAD)
    assert "23:59 Europe/Berlin" in json.dumps(open_form(rig, second).data)
    asked = [c for c in rig.sandbox.calls("users.info") if c.args.get("user") == LEAD]
    assert len(asked) == 1
