"""What an agent hands ``ApprovalClient`` is checked at the door, before policy or storage:
SQLite and PostgreSQL accept and refuse exactly the same requests, and every refusal is a
``SignoffError`` saying what to change, with nothing stored."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel, field_validator

from bot import (
    ApprovalClient,
    InvalidArguments,
    InvalidRequest,
    SignoffError,
    StoreUnavailable,
    TicketStatus,
)
from bot.render import ACTION_APPROVE
from escalation.config import load_config
from store.ledger import Ledger
from store.models import args_hash
from tests.e2e.conftest import EXAMPLE, Rig
from tests.e2e.test_reviews import wait_ephemeral


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def _cycle() -> Any:
    loop: list[Any] = []
    loop.append(loop)
    return loop


REFUSED = {
    "inf": (float("inf"), "finite number"),
    "-inf": (float("-inf"), "finite number"),
    "nan": (float("nan"), "finite number"),
    "10**400": (10**400, "as a string"),
    "2**53": (2**53, "as a string"),
    "Decimal": (Decimal("12.50"), "as a string"),
    "set": ({1, 2}, "pass a list"),
    "frozenset": (frozenset({1}), "pass a list"),
    "bytes": (b"\x00\x01", "base64"),
    "datetime": (dt.datetime(2026, 11, 20, 9, 0), "isoformat"),
    "date": (dt.date(2026, 11, 20), "isoformat"),
    "surrogate": ("\ud800", "not valid Unicode"),
    "int-key": ({1: "a"}, "string keys"),
    "10000-deep": (_nested(10_000), "flatten"),
    "cycle": (_cycle(), "flatten"),
    "object": (object(), "is a object"),
}

ACCEPTED = {
    "big-float": 1e20,
    "negative-zero": -0.0,
    "largest-safe-integer": 2**53 - 1,
    "tuple": (1, 2),
    "nested": {"a": [{"b": None, "c": True}]},
    "numeric-text": "1e400",
    "nul-in-text": "a\x00b",
    "unicode": "Zoë 🙂",
}


@pytest.fixture
def client(ledger: Ledger) -> Iterator[ApprovalClient]:
    yield ApprovalClient(ledger, load_config(EXAMPLE))


def _refund(client: ApprovalClient, value: Any, **kw: Any) -> Any:
    fields: dict[str, Any] = {"reason": "double charge", "requested_by": "U0REQUESTER"} | kw
    return client.request("issue_refund", {"amount": value, "customer": "cus_42"}, **fields)


def _nothing_stored(ledger: Ledger) -> None:
    assert ledger.list_tickets() == []
    # The client records the policy version it applies when it starts; nothing else.
    assert [e.kind for e in ledger.audit_events()] in ([], ["policy_applied"])


@pytest.mark.parametrize("name", list(REFUSED))
def test_non_json_arguments_are_refused_at_the_door(client: ApprovalClient, ledger: Ledger,
                                                    name: str) -> None:
    value, fix = REFUSED[name]
    with pytest.raises(InvalidArguments) as info:
        _refund(client, value)
    assert fix in str(info.value) and not isinstance(info.value, StoreUnavailable)
    with pytest.raises(InvalidArguments):
        client.evaluate("issue_refund", {"amount": value}, requested_by="U0REQUESTER")
    _nothing_stored(ledger)


@pytest.mark.parametrize("name", list(ACCEPTED))
def test_json_arguments_are_stored_and_read_back_exactly(client: ApprovalClient,
                                                         ledger: Ledger, name: str) -> None:
    ticket = _refund(client, ACCEPTED[name])
    stored = ledger.get_ticket(ticket.id)
    assert stored.args == ticket.args and stored.final_args == ticket.final_args
    assert args_hash(stored.final_args) == ticket.final_args_hash


def test_numbers_policy_cannot_compare_fail_closed(client: ApprovalClient) -> None:
    # issue_refund over 1000 is the example's critical rule: '1e400' cannot slip under it.
    for value in ("1e400", "Infinity", "60_000"):
        ticket = _refund(client, value)
        assert ticket.status == TicketStatus.PENDING and ticket.tier.value == "critical"
        assert ticket.route.approvals_required == 2


@pytest.mark.parametrize(("given", "stored"), [("u0grpmem", "U0GRPMEM"),
                                               (" U0GRPMEM ", "U0GRPMEM"),
                                               ("w0grid", "W0GRID")])
def test_requested_by_is_normalised(client: ApprovalClient, given: str, stored: str) -> None:
    assert _refund(client, 120, requested_by=given).requested_by == stored


@pytest.mark.parametrize("requested_by", ["", "   ", "alice", "@alice", "C0PAYMENTS",
                                          "S0SREGROUP", "U", "U0 X", "U0X\x00", None, 7,
                                          "U" + "A" * 64])
def test_requested_by_must_be_a_slack_user_id(client: ApprovalClient, ledger: Ledger,
                                              requested_by: Any) -> None:
    with pytest.raises(InvalidRequest) as info:
        _refund(client, 120, requested_by=requested_by)
    assert "requested_by" in str(info.value)
    _nothing_stored(ledger)


@pytest.mark.parametrize(("field", "value"), [
    ("reason", "refund\x00now"), ("summary", "a\x00"), ("confidence", 1.5),
    ("confidence", float("nan")), ("idempotency_key", "k" * 201), ("idempotency_key", ""),
    ("evidence", [{"url": "https://example.com"}]), ("evidence", 5), ("agent", 42),
    ("agent", "a" * 201), ("run_id", "r" * 201), ("reason", "bad \ud800 text"),
    ("evidence", [{"title": "bad \ud800 text"}]),
])
def test_every_other_field_is_checked_before_anything_is_stored(
        client: ApprovalClient, ledger: Ledger, field: str, value: Any) -> None:
    with pytest.raises(InvalidRequest) as info:
        _refund(client, 120, **{field: value})
    assert field in str(info.value)
    _nothing_stored(ledger)


@pytest.mark.parametrize("action", ["", "a" * 201, "a\x00b", None])
def test_the_action_name_is_checked(client: ApprovalClient, ledger: Ledger, action: Any) -> None:
    with pytest.raises(InvalidRequest) as info:
        client.request(action, {}, reason="r", requested_by="U0REQUESTER")
    assert "action" in str(info.value)
    _nothing_stored(ledger)


def test_offered_arguments_must_be_json_and_consume_nothing(client: ApprovalClient,
                                                            ledger: Ledger) -> None:
    ticket = client.request("search_orders", {"q": "{1}"}, reason="lookup",
                            requested_by="U0REQUESTER")
    with pytest.raises(InvalidArguments):  # a set whose text spells the approved value
        client.execute(ticket.id, lambda q: q, {"q": {1}}, action="search_orders")
    assert ledger.get_ticket(ticket.id).status == TicketStatus.APPROVED
    assert client.execute(ticket.id, lambda q: q, action="search_orders") == "{1}"


class _Crashes(BaseModel):
    q: str

    @field_validator("q")
    @classmethod
    def _boom(cls, value: str) -> str:
        raise TypeError("validator bug")


def _boom(args: dict[str, Any]) -> bool:
    raise KeyError("stock level")


@pytest.mark.parametrize("hook", ["revalidate", "args_model"])
def test_a_crashing_check_refuses_the_run_and_records_it(client: ApprovalClient,
                                                         ledger: Ledger, hook: str) -> None:
    ticket = client.request("search_orders", {"q": "x"}, reason="lookup",
                            requested_by="U0REQUESTER")
    ran: list[str] = []
    kwargs: dict[str, Any] = ({"revalidate": _boom} if hook == "revalidate"
                              else {"args_model": _Crashes})
    with pytest.raises(SignoffError) as info:
        client.execute(ticket.id, lambda q: ran.append(q), action="search_orders", **kwargs)
    assert "stock level" in str(info.value) or "validator bug" in str(info.value)
    assert ran == []
    after = ledger.get_ticket(ticket.id)
    assert after.status == TicketStatus.FAILED  # decided and recorded, never left executing
    assert after.outcome is not None and not after.outcome.ok


def test_every_refusal_is_a_signoff_error(client: ApprovalClient) -> None:
    for value, _fix in REFUSED.values():
        with pytest.raises(SignoffError):
            _refund(client, value)
    with pytest.raises(SignoffError):
        client.request("issue_refund", ["not", "a", "dict"],  # type: ignore[arg-type]
                       reason="r", requested_by="U0REQUESTER")
    with pytest.raises(SignoffError):
        client.call(lambda: None, {}, action="search_orders", reason="r", requested_by="")
    ticket = client.request("search_orders", {}, reason="r", requested_by="U0REQUESTER")
    for timeout in ("soon", float("nan"), [1]):
        with pytest.raises(SignoffError):
            client.wait(ticket.id, timeout)  # type: ignore[arg-type]


@pytest.mark.parametrize("spelling", ["u0paylead", "U0PAYLEAD ", " u0PayLead"])
def test_a_respelt_requester_still_cannot_approve_their_own_request(rig: Rig,
                                                                    spelling: str) -> None:
    ticket = rig.client.request("issue_refund", {"amount": 120, "customer": "cus_42"},
                                reason="r", requested_by=spelling)
    assert ticket.requested_by == "U0PAYLEAD"
    rig.sandbox.click("U0PAYLEAD", action_id=ACTION_APPROVE, channel="C0PAYMENTS")
    wait_ephemeral(rig, "U0PAYLEAD", "on your behalf")
    assert rig.ledger.decisions(ticket.id) == []
    assert rig.ledger.get_ticket(ticket.id).status == TicketStatus.PENDING
