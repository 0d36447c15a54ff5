"""The batch card and its modals: within Block Kit's limits at any size, the spread of the
arguments, secrets masked, and buttons bound to the batch and the hash of its list."""

from __future__ import annotations

from typing import Any

import pytest

from bot.render.batch import (
    ACTION_BATCH_APPROVE,
    ACTION_BATCH_REJECT,
    BatchRef,
    parse_batch_metadata,
    parse_batch_value,
    parse_item_value,
    render_batch_card,
    render_batch_reject_modal,
    render_batch_show_all_modal,
    spread,
)
from store.models import Ticket, TicketStatus
from tests.render.render_checks import (
    assert_fits_message,
    assert_fits_view,
    buttons,
    everything,
    make_ticket,
)

DIGEST = "ab" * 32


def members(n: int, **extra: Any) -> list[Ticket]:
    return [make_ticket(id=f"t{i:026d}", args={"amount": 10 * (i + 1), "customer": f"cus_{i}",
                                               "to": f"p{i}@{'a.com' if i % 2 else 'b.org'}",
                                               **extra})
            for i in range(n)]


@pytest.mark.parametrize("n", [1, 2, 5, 90])
def test_the_card_fits_and_binds_its_buttons_to_the_list(n: int) -> None:
    pending = members(n)
    card = render_batch_card("b1", pending, pending, DIGEST)
    assert_fits_message(dict(card))
    approve, reject = (b for b in buttons(card["blocks"])
                       if b["action_id"] in (ACTION_BATCH_APPROVE, ACTION_BATCH_REJECT))
    assert approve["text"]["text"] == f"Approve all {n}"
    assert parse_batch_value(approve["value"]) == BatchRef("b1", DIGEST)
    assert parse_batch_value(reject["value"]) == BatchRef("b1", DIGEST)
    for view in (render_batch_show_all_modal(BatchRef("b1", DIGEST), pending, ("C1", "1.2")),
                 render_batch_reject_modal(BatchRef("b1", DIGEST), pending, ("C1", "1.2"))):
        assert_fits_view(dict(view))
        origin = parse_batch_metadata(view["private_metadata"])
        assert (origin.ref, origin.size, origin.channel, origin.ts) == (
            BatchRef("b1", DIGEST), n, "C1", "1.2")


def test_the_spread_shows_numbers_domains_and_distinct_values() -> None:
    lines = "\n".join(spread(members(5, template="apology")))
    assert "*amount* min 10 · median 30 · max 50 · total 150" in lines
    assert "5 addresses at `b.org` (3), `a.com` (2)" in lines
    assert "*template* apology (all 5)" in lines
    assert "*customer* 5 distinct" in lines


def test_secrets_never_reach_the_card_or_the_modal() -> None:
    pending = members(3, api_token="sk_live_SECRET")
    card = render_batch_card("b1", pending, pending, DIGEST)
    modal = render_batch_show_all_modal(BatchRef("b1", DIGEST), pending, None)
    assert "sk_live_SECRET" not in everything(card) + everything(modal)


def test_members_that_left_the_list_are_counted_and_a_done_batch_has_no_buttons() -> None:
    everyone = members(4)
    rejected = everyone[0].model_copy(update={"status": TicketStatus.REJECTED,
                                              "decided_by": "U0REV"})
    expired = everyone[1].model_copy(update={"status": TicketStatus.EXPIRED})
    now = [rejected, expired, *everyone[2:]]
    card = render_batch_card("b1", now, everyone[2:], DIGEST)
    text = everything(card)
    assert "Approve all 2" in text and "1 expired, 1 rejected" in text
    done = render_batch_card("b1", [rejected, expired], [], DIGEST)
    assert buttons(done["blocks"]) == [] and "none is waiting" in everything(done)


def test_item_menus_name_the_ticket_and_its_version() -> None:
    assert parse_item_value("reject|t1@3") == ("reject", "t1", 3)
    assert parse_item_value("edit|t2@1") == ("edit", "t2", 1)
