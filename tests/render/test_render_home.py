"""App Home: the reviewer's own queue."""

from __future__ import annotations

from datetime import timedelta

from bot.render import render_home
from store.models import RiskTier, TicketStatus
from tests.render.render_checks import (
    APPROVER,
    NOW,
    REQUESTER,
    assert_fits_view,
    block,
    everything,
    make_ticket,
    text_of,
)


def test_queue_is_sorted_by_deadline_with_links_and_key_facts() -> None:
    late = make_ticket(id="tlate", action="send_email", expires_at=NOW + timedelta(hours=9))
    soon = make_ticket(id="tsoon", action="issue_refund", tier=RiskTier.CRITICAL,
                       expires_at=NOW + timedelta(minutes=30), status=TicketStatus.NEEDS_INFO)
    view = render_home(APPROVER, [(late, None), (soon, "https://acme.slack.com/archives/C1/p1")],
                       NOW)
    assert_fits_view(view)
    assert view["type"] == "home"
    items = [b for b in view["blocks"] if b["block_id"].startswith("signoff_home_t:")]
    assert [b["block_id"] for b in items] == ["signoff_home_t:tsoon", "signoff_home_t:tlate"]
    first = text_of(items[0])
    assert first.startswith("🔴 critical · *issue_refund* · approval")
    assert "30m left" in first and f"for <@{REQUESTER}>" in first
    assert "<https://acme.slack.com/archives/C1/p1|Open the card>" in first
    assert "waiting for the agent's answer" in first
    assert "Open the card" not in text_of(items[1])
    assert "2 requests waiting for you" in text_of(block(view["blocks"], "signoff_home_summary"))


def test_empty_queue() -> None:
    view = render_home(APPROVER, [], NOW)
    assert_fits_view(view)
    assert "Nothing is waiting for you" in everything(view)


def test_long_queue_folds_into_and_n_more() -> None:
    tickets = [(make_ticket(id=f"t{i:04}", expires_at=NOW + timedelta(minutes=i)), None)
               for i in range(250)]
    view = render_home(APPROVER, tickets, NOW)
    assert_fits_view(view)
    assert len(view["blocks"]) == 100
    assert text_of(view["blocks"][-1]) == "…and 153 more waiting for you."
    assert view["blocks"][2]["block_id"] == "signoff_home_t:t0000"
