"""Tool annotations are a server's word about its own tools: they loosen policy (an allow
rule on ``annotations.*``) only from an upstream marked ``trust_annotations``, passed on by
the embedded proxy or by an agent token added with ``--trusted-annotations``. From anyone
else they can only tighten it: deny and review rules still read them."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest

from escalation.config import load_config
from escalation.policy import (
    ANNOTATIONS_KEY,
    Policy,
    Proposal,
    trusted,
    untrusted,
    with_annotations,
)
from store.ledger import Ledger
from store.models import TicketStatus
from tests.e2e.conftest import running_gateway, running_rig, workspace
from tests.mcp.conftest import NOTES_SERVER, REQUESTER, McpRig, write_config
from tests.mcp.test_proxy import pending, run

READ_ONLY = {"readOnlyHint": True}
DESTRUCTIVE = {"destructiveHint": True}


def _proposal(action: str, annotations: dict[str, object]) -> Proposal:
    return Proposal(action=action, args={"name": "todo"}, requested_by=REQUESTER,
                    annotations=annotations)


def test_untrusted_annotations_tighten_but_never_allow(mcp_rig: McpRig) -> None:
    policy = Policy(mcp_rig.rig.config)
    assert policy.evaluate(_proposal("notes.read_note", READ_ONLY)).decision == "allow"
    unvouched = policy.evaluate(_proposal("notes.read_note", untrusted(READ_ONLY)))
    assert unvouched.decision == "require_approval" and unvouched.rule != "mcp-reads"
    # The same word that would loosen cannot; the word that tightens still does.
    strict = policy.evaluate(_proposal("notes.write_note", untrusted(DESTRUCTIVE)))
    assert strict.rule == "mcp-writes" and strict.tier.value == "high"
    # A caller cannot unmark its own annotations.
    forged = untrusted({**READ_ONLY, "signoff:untrusted": False})
    assert not trusted(forged)
    assert policy.evaluate(_proposal("notes.read_note", forged)).decision != "allow"


def test_a_callers_schema_never_carries_annotations_of_its_own() -> None:
    forged = {"type": "object", ANNOTATIONS_KEY: READ_ONLY}
    assert with_annotations(forged, {}) == {"type": "object"}
    assert with_annotations(forged, DESTRUCTIVE) == {"type": "object",
                                                     ANNOTATIONS_KEY: DESTRUCTIVE}
    assert with_annotations(None, {}) is None


@pytest.mark.parametrize("vouches", [False, True])
def test_agent_api_annotations_loosen_only_from_a_vouching_token(
        mcp_rig: McpRig, db_url: str, vouches: bool) -> None:
    body = {"action": "notes.read_note", "args": {"name": "todo"}, "reason": "look",
            "requested_by": REQUESTER, "annotations": READ_ONLY,
            "args_schema": {"type": "object", ANNOTATIONS_KEY: READ_ONLY}}
    with running_gateway(mcp_rig.rig, db_url, agent="any-bot", actions=("notes.*",),
                         trusted_annotations=vouches) as gate, \
            httpx.Client(base_url=gate.url, timeout=30,
                         headers={"Authorization": f"Bearer {gate.token}"}) as c:
        resp = c.post("/v1/requests", json=body)
    assert resp.status_code == 200, resp.text
    ticket = mcp_rig.rig.ledger.get_ticket(resp.json()["id"])
    if vouches:
        assert ticket.status == TicketStatus.APPROVED and ticket.policy_rule == "mcp-reads"
    else:
        # An agent's own claim that its tool only reads does not skip review.
        assert ticket.status == TicketStatus.PENDING and ticket.policy_rule != "mcp-reads"
        assert ticket.card is not None
    assert (ticket.args_schema or {}).get(ANNOTATIONS_KEY, {}).get(
        "signoff:untrusted") is (None if vouches else True)


def test_an_untrusted_upstreams_reads_wait_for_review(ledger: Ledger, db_url: str,
                                                      tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    path = write_config(tmp_path, notes, upstream={
        "command": sys.executable, "args": [str(NOTES_SERVER)],
        "env": {"NOTES_ROOT": str(notes)}})  # no trust_annotations
    with running_rig(ledger, load_config(path), workspace()) as rig:
        m = McpRig(rig, path, notes, db_url)

        async def scenario() -> dict[str, object]:
            async with m.session(wait=0.5) as client:
                return pending(await client.call_tool("read_note", {"name": "todo"}))

        answer = run(scenario)
    assert answer["status"] == "pending"
    assert m.upstream_calls() == []
    (ticket,) = [t for t in ledger.list_tickets() if t.action == "notes.read_note"]
    assert ticket.status == TicketStatus.PENDING and ticket.policy_rule != "mcp-reads"

