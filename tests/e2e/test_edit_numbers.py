"""A reviewer's edit to a number JSON cannot hold (1e400, 10**400, NaN) is an error under the
field, through the real modal and the real bot: never inf, never stored, never a 500."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from bot.render import ACTION_EDIT
from store.models import TicketStatus
from tests.e2e.conftest import Rig
from tests.e2e.test_reviews import settled

HUGE = "1" + "0" * 400  # what Slack's number input lets through: digits only


class TransferArgs(BaseModel):
    amount: float
    units: int
    meta: dict[str, Any]


def _open_edit(rig: Rig) -> str:
    ticket = rig.client.request("move_funds", {"amount": 12.5, "units": 3, "meta": {"k": 1}},
                                reason="rebalance", requested_by="U0REQUESTER",
                                args_model=TransferArgs)
    assert rig.sandbox.click("U0SRE1", action_id=ACTION_EDIT, channel="C0APPROVALS").ok
    rig.sandbox.wait_until(lambda: rig.sandbox.views("U0SRE1"))
    return ticket.id


@pytest.mark.parametrize(("block", "typed"), [
    ("arg:amount", HUGE), ("arg:units", HUGE),
    ("arg:meta", '{"k": 1e400}'), ("arg:meta", '{"k": NaN}'), ("arg:meta", '{"k": Infinity}'),
    ("arg:meta", '{"k": 1' + "0" * 30 + "}"),
])
def test_an_edit_to_a_number_json_cannot_hold_is_a_field_error(rig: Rig, block: str,
                                                              typed: str) -> None:
    ticket_id = _open_edit(rig)
    result = rig.sandbox.submit("U0SRE1", {block: {"signoff_edit_value": typed}})
    assert result.status == 200, result
    assert result.response_action == "errors" and block in result.errors
    assert "inf" not in result.errors[block].lower().replace("infinity", "")
    assert rig.ledger.decisions(ticket_id) == []
    after = rig.ledger.get_ticket(ticket_id)
    assert after.status == TicketStatus.PENDING and after.final_args == after.args
    # The same modal then takes a number JSON can hold, and that is what gets approved.
    good = rig.sandbox.submit("U0SRE1", {block: {"signoff_edit_value":
                                                 '{"k": 2}' if block == "arg:meta" else "7"}})
    assert good.ok and good.response_action is None
    edited = settled(rig, ticket_id)  # an edit approves (the default route needs one)
    assert edited.status == TicketStatus.APPROVED
    key = block.removeprefix("arg:")
    assert edited.final_args[key] == ({"k": 2} if key == "meta" else 7)
