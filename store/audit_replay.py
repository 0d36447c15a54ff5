"""Replaying a ticket's audit events: what its state must be, if its events are the truth.

The ticket row is a cache of its events. A row changed by hand (``UPDATE tickets SET
status = 'approved'``) no longer follows from them: ``audit verify`` names it, and
:meth:`store.ledger.Ledger.start_execution` refuses to run it (``ApprovalUnverifiable``).

Approval is replayed strictly: ``approved`` needs the ``created`` event of a policy-allowed
action, or approvals of the current arguments' hash by as many distinct people as the route
requires, none of them the person the request is for. Other transitions follow the state
machine; an event kind this module does not know moves the ticket only to the ``status`` it
records, and never to ``approved``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from store.models import TicketStatus as S

_APPROVED_OR_LATER = {S.APPROVED, S.EXECUTING, S.EXECUTED, S.FAILED, S.OUTCOME_UNKNOWN}
_BY_KIND = {"info_requested": S.NEEDS_INFO, "answered": S.PENDING, "cancelled": S.CANCELLED,
            "expired": S.EXPIRED, "executed": S.EXECUTED, "failed": S.FAILED,
            "outcome_unknown": S.OUTCOME_UNKNOWN}
_BY_DECISION = {"reject": S.REJECTED, "take_over": S.TAKEN_OVER,
                "request_info": S.NEEDS_INFO}


class EventRow(Protocol):
    @property
    def kind(self) -> str: ...
    @property
    def actor(self) -> str: ...
    @property
    def data(self) -> str: ...
    @property
    def ticket_seq(self) -> int | None: ...


@dataclass
class Replayed:
    status: S | None = None
    final_hash: str | None = None
    approvals: list[str] = field(default_factory=list)
    acting: dict[str, str] = field(default_factory=dict)
    """Approvals a delegate gave for someone else: approver → principal."""
    required: int = 1
    requested_by: str | None = None
    problems: list[str] = field(default_factory=list)

    def fail(self, row: EventRow, text: str) -> None:
        self.problems.append(f"event {row.ticket_seq} ({row.kind}): {text}")


def replay(rows: Iterable[EventRow]) -> Replayed:
    """The state a ticket's events (in ``ticket_seq`` order) lead to, and what does not fit."""
    out = Replayed()
    for row in rows:
        data: dict[str, Any] = json.loads(row.data)
        if out.status is None:
            _created(out, row, data)
            continue
        before = out.status
        _apply(out, row, data)
        if out.status in _APPROVED_OR_LATER and before not in _APPROVED_OR_LATER \
                and out.status != S.APPROVED:
            out.fail(row, f"moves a {before.value} ticket to {out.status.value}")
        recorded = data.get("status")
        if recorded is not None and recorded != out.status.value:
            out.fail(row, f"records status {recorded}, but its events lead to "
                          f"{out.status.value}")
    if out.status is None:
        out.problems.append("it has no events")
    return out


def _created(out: Replayed, row: EventRow, data: dict[str, Any]) -> None:
    if row.kind != "created":
        out.fail(row, "the first event of a ticket must be 'created'")
        out.status = S.PENDING
        return
    out.status = S(data.get("status", S.PENDING.value))
    out.final_hash = data.get("args_hash")
    out.required = int((data.get("route") or {}).get("approvals_required", 1))
    out.requested_by = data.get("requested_by")
    if out.status not in (S.PENDING, S.APPROVED):
        out.fail(row, f"a ticket cannot be created {out.status.value}")


def _apply(out: Replayed, row: EventRow, data: dict[str, Any]) -> None:
    assert out.status is not None
    decision = data.get("decision")
    if row.kind == "decided" and decision in ("approve", "edit"):
        _approve(out, row, data)
    elif row.kind == "decided" and decision in _BY_DECISION:
        _must_be_open(out, row)
        out.status = _BY_DECISION[decision]
    elif row.kind == "edited":
        _edit(out, row, data)
    elif row.kind == "break_glass":
        _break_glass(out, row, data)
    elif row.kind == "executing":
        if out.status != S.APPROVED or data.get("args_hash") != out.final_hash:
            out.fail(row, "execution started without an approval of these arguments")
        out.status = S.EXECUTING
    elif row.kind in _BY_KIND:
        out.status = _BY_KIND[row.kind]
    elif row.kind == "outcome_resolved":  # a human settled a lost execution
        out.status = S.EXECUTED if data.get("outcome") == "succeeded" else S.FAILED
    elif "status" in data and data["status"] in S.__members__.values():
        new = S(data["status"])
        if new in _APPROVED_OR_LATER and out.status not in _APPROVED_OR_LATER:
            out.fail(row, f"an event of kind {row.kind!r} cannot approve")
        else:
            out.status = new


def _must_be_open(out: Replayed, row: EventRow) -> None:
    if out.status is None or not out.status.is_open:
        out.fail(row, f"a decision on a ticket that is {out.status}")


def _approve(out: Replayed, row: EventRow, data: dict[str, Any]) -> None:
    _must_be_open(out, row)
    if data.get("args_hash") != out.final_hash:
        out.fail(row, "the approval is for other arguments than the ticket's")
    elif out.requested_by in _stands_for(row, data):
        out.fail(row, f"{row.actor} approved their own request"
                      + (f" (acting for {data['on_behalf_of']})"
                         if data.get("on_behalf_of") else ""))
    elif _stands_for(row, data) & (set(out.approvals) | set(out.acting.values())):
        out.fail(row, f"{row.actor} approved twice (alone or through a delegation)")
    else:
        out.approvals.append(row.actor)
        if data.get("on_behalf_of"):
            out.acting[row.actor] = str(data["on_behalf_of"])
    _count(out, row, data)


def _break_glass(out: Replayed, row: EventRow, data: dict[str, Any]) -> None:
    """A responder approved alone: it needs a justification, the current arguments' hash,
    and a responder other than the requester unless its rule allowed that."""
    _must_be_open(out, row)
    if data.get("args_hash") != out.final_hash:
        out.fail(row, "the break-glass is for other arguments than the ticket's")
    elif not str(data.get("justification") or "").strip():
        out.fail(row, "a break-glass without a justification")
    elif row.actor == out.requested_by and data.get("allow_self") is not True:
        out.fail(row, f"{row.actor} broke glass on their own request")
    else:
        if row.actor not in out.approvals:
            out.approvals.append(row.actor)
        recorded = data.get("approvals")
        if recorded is not None and sorted(recorded) != sorted(out.approvals):
            out.fail(row, f"records approvals {recorded}, but its events give "
                          f"{out.approvals}")
        out.status = S.APPROVED
        return
    out.status = S.PENDING


def _stands_for(row: EventRow, data: dict[str, Any]) -> set[str]:
    """Everyone a decision counts as: its actor, whoever they acted for, and whoever a
    delegation made them one person with (recorded with the decision)."""
    out = {row.actor, *(str(i) for i in data.get("identities") or ())}
    if data.get("on_behalf_of"):
        out.add(str(data["on_behalf_of"]))
    return out


def _edit(out: Replayed, row: EventRow, data: dict[str, Any]) -> None:
    _must_be_open(out, row)
    out.final_hash = data.get("args_hash")  # changed arguments void earlier approvals
    out.required = int(data.get("approvals_required", out.required))
    approvals = list(data.get("approvals") or [])
    if approvals not in ([], [row.actor]):
        out.fail(row, f"an edit by {row.actor} cannot carry approvals {approvals}")
        approvals = []
    if approvals and out.requested_by in _stands_for(row, data):
        out.fail(row, f"{row.actor} approved their own request")
        approvals = []
    out.approvals = approvals
    principal = data.get("on_behalf_of")
    out.acting = {row.actor: str(principal)} if approvals and principal else {}
    _count(out, row, data)


def _count(out: Replayed, row: EventRow, data: dict[str, Any]) -> None:
    recorded = data.get("approvals")
    if recorded is not None and sorted(recorded) != sorted(out.approvals):
        out.fail(row, f"records approvals {recorded}, but its events give {out.approvals}")
    out.status = S.APPROVED if len(out.approvals) >= out.required else S.PENDING


def row_problems(replayed: Replayed, *, status: str, final_args_hash: str,
                 approvals: Iterable[str]) -> list[str]:
    """Where the ticket row disagrees with its replayed events."""
    out = list(replayed.problems)
    if replayed.status is not None and status != replayed.status.value:
        out.append(f"the ticket is {status}, but its events lead to {replayed.status.value}")
    if replayed.final_hash is not None and final_args_hash != replayed.final_hash:
        out.append("the ticket's approved-arguments hash is not the one its events approved")
    if replayed.status is not None and sorted(approvals) != sorted(replayed.approvals):
        out.append(f"the ticket lists approvals {sorted(approvals)}, its events "
                   f"{sorted(replayed.approvals)}")
    return out
