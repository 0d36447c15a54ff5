"""Break-glass surfaces pass the sandbox's Block Kit validator and slack_sdk's models over
generated tickets and justifications; what they say."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from bot.render import render_card
from bot.render.breakglass import (
    render_break_glass_modal,
    render_break_glass_note,
    render_security_post,
    render_unwitnessed_dm,
    render_witnessed_note,
    with_witness_button,
)
from bot.render.ids import ACTION_BREAK_GLASS, ACTION_WITNESS, JUSTIFICATION_BLOCK
from store.models import MAX_JUSTIFICATION, BreakGlass, Ticket
from tests.render.render_checks import NOW, make_ticket
from tests.render.test_render_limits import FAST, tickets
from tests.render.test_slack_models import agree_on_message, agree_on_view


def record(ticket: Ticket, justification: str, **kw: object) -> BreakGlass:
    fields: dict[str, object] = dict(
        ticket_id=ticket.id, responder="U0LEAD", justification=justification or "x",
        rule="rules[0] restart", broken_at=NOW, witness_due_at=NOW + timedelta(minutes=15),
        security_channel="C0SEC", security_ts="1.2")
    fields.update(kw)
    return BreakGlass(**fields)  # type: ignore[arg-type]


def elements(message: dict[str, object]) -> list[str]:
    return [e.get("action_id", "") for b in message["blocks"]  # type: ignore[attr-defined]
            if b.get("type") == "actions" for e in b["elements"]]


@FAST
@given(tickets(), st.text(min_size=1, max_size=MAX_JUSTIFICATION))
def test_every_break_glass_surface_passes_both_validators(ticket: Ticket, why: str) -> None:
    rec = record(ticket, why)
    done = record(ticket, why, witnessed_by="U0FINOPS", witnessed_at=NOW, escalation_level=2)
    for message in (render_security_post(ticket, rec), render_security_post(ticket, done),
                    render_unwitnessed_dm(ticket, rec, 2), render_break_glass_note(ticket, rec),
                    render_witnessed_note(done), render_card(ticket, now=NOW, break_glass=True)):
        agree_on_message(message)
    card = render_card(ticket, now=NOW)
    agree_on_message({"blocks": with_witness_button(card["blocks"], ticket)})
    agree_on_view(render_break_glass_modal(ticket, witness_within=timedelta(minutes=15)))


def test_what_they_say() -> None:
    ticket = make_ticket()
    rec = record(ticket, "payments are down")
    post = render_security_post(ticket, rec)
    assert "BREAK-GLASS" in post["text"] and ACTION_WITNESS in elements(post)
    assert "payments are down" in str(post["blocks"])
    witnessed = render_security_post(ticket, record(ticket, "x", witnessed_by="U0FINOPS",
                                                    witnessed_at=NOW))
    assert ACTION_WITNESS not in elements(witnessed) and "<@U0FINOPS>" in str(witnessed)
    escalated = render_security_post(ticket, record(ticket, "x", escalation_level=1))
    assert "Unwitnessed override" in str(escalated["blocks"])
    modal = render_break_glass_modal(ticket, witness_within=timedelta(hours=1, minutes=30))
    assert "1h30m" in str(modal["blocks"])
    assert any(b.get("block_id") == JUSTIFICATION_BLOCK for b in modal["blocks"])
    assert ACTION_BREAK_GLASS in elements(render_card(ticket, now=NOW, break_glass=True))
    assert ACTION_BREAK_GLASS not in elements(render_card(ticket, now=NOW))
