"""The demo includes one canary among the agent's payments requests, and shows the review
figures on the payments approvers' App Home."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from bot.demo.config import PAYMENTS, REVIEWER
from bot.demo.runner import Demo, DemoOptions
from bot.render import ACTION_APPROVE
from store.models import TicketStatus


@pytest.fixture
def demo() -> Iterator[Demo]:
    with Demo(DemoOptions(port=0, fast=True, say=lambda _line: None)) as running:
        yield running


@pytest.mark.slow
def test_the_demo_has_one_canary_and_stats_on_app_home(demo: Demo) -> None:
    sb, ledger = demo.sandbox, demo.ledger
    assert sb is not None and ledger is not None
    card = sb.wait_until(lambda: next((m for m in sb.messages(PAYMENTS) if "cus_zed" in m.text),
                                      None), timeout=15)
    [canary] = sb.wait_until(lambda: [t for t in ledger.list_tickets()
                                      if t.canary is not None and t.card is not None])
    assert canary.card is not None and canary.card.ts == card.ts
    assert sb.click(REVIEWER.id, action_id=ACTION_APPROVE, channel=PAYMENTS,
                    message_ts=card.ts).ok
    note = sb.wait_until(lambda: next((m.text for m in sb.ephemerals(REVIEWER.id)
                                       if "canary" in m.text), None))
    assert "cus_zed closed their account" in note
    sb.wait_until(lambda: ledger.get_ticket(canary.id).status == TicketStatus.CANCELLED)
    assert sb.open_app_home(REVIEWER.id).ok
    home = sb.wait_until(lambda: (h := sb.home(REVIEWER.id)) is not None
                         and "Review quality" in json.dumps(h.data) and h)
    text = json.dumps(home.data, ensure_ascii=False)
    assert "*payments*" in text and "1 missed" in text
    # one canary, however long the demo runs
    assert [t.id for t in ledger.list_tickets() if t.canary is not None] == [canary.id]
