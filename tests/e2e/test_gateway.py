"""The agent gateway over plain HTTP (what curl sends): tokens, scopes, ownership, the cap on
open requests, errors with stable codes, waiting by push, the execution claim and receipts."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from bot.receipts import ReceiptInvalid, verify
from bot.render import ACTION_APPROVE
from store.agents import AgentStore
from store.models import TicketStatus
from tests.e2e.conftest import Gate, Rig, running_gateway

ARGS = {"amount": 120, "customer": "cus_42"}
BODY = {"action": "issue_refund", "args": ARGS, "reason": "double charge",
        "requested_by": "U0REQUESTER"}


def http(gate: Gate, token: str | None = None) -> httpx.Client:
    headers = {} if token == "" else {"Authorization": f"Bearer {token or gate.token}"}
    return httpx.Client(base_url=gate.url, headers=headers, timeout=30)


def approve(rig: Rig, ticket_id: str) -> None:
    rig.sandbox.click("U0PAYLEAD", action_id=ACTION_APPROVE, channel="C0PAYMENTS")
    deadline = time.monotonic() + 10
    while rig.ledger.get_ticket(ticket_id).status == TicketStatus.PENDING:
        assert time.monotonic() < deadline, "the click was not recorded"
        time.sleep(0.01)


def test_tokens_missing_wrong_and_revoked_get_401(rig: Rig, gate: Gate) -> None:
    for token in ("", "sgn_not-a-real-token"):
        with http(gate, token) as c:
            resp = c.post("/v1/requests", json=BODY)
        assert resp.status_code == 401, resp.text
        assert resp.json()["error"] == "unauthorized" and resp.json()["message"]
        assert resp.headers["WWW-Authenticate"] == "Bearer"
    with http(gate) as c:
        assert c.post("/v1/requests", json=BODY).status_code == 200
        AgentStore(rig.ledger).revoke(gate.agent)
        resp = c.get("/v1/requests/t0000")
    assert resp.status_code == 401 and resp.json()["error"] == "unauthorized"


def test_a_token_revoked_during_a_long_poll_gets_401_when_the_wait_ends(rig: Rig,
                                                                        gate: Gate) -> None:
    with http(gate) as c:
        ticket = c.post("/v1/requests", json=BODY).json()
        revoke = threading.Timer(0.3, AgentStore(rig.ledger).revoke, args=(gate.agent,))
        revoke.start()
        resp = c.get(f"/v1/requests/{ticket['id']}", params={"wait": 1.5})
        revoke.join()
    assert resp.status_code == 401 and resp.json()["error"] == "unauthorized"


def test_an_action_outside_the_scope_is_403_and_creates_nothing(rig: Rig, db_url: str) -> None:
    with running_gateway(rig, db_url, agent="search-bot", actions=("search_*",)) as g, \
            http(g) as c:
        resp = c.post("/v1/requests", json=BODY)
        assert resp.status_code == 403 and resp.json()["error"] == "action_not_allowed"
        assert "search_*" in resp.json()["message"]
        ok = c.post("/v1/requests", json={**BODY, "action": "search_orders", "args": {}})
        assert ok.status_code == 200 and ok.json()["status"] == "approved"
    assert [t.action for t in rig.ledger.list_tickets()] == ["search_orders"]
    assert rig.sandbox.calls("chat.postMessage") == []


def test_another_agents_ticket_is_404_everywhere(rig: Rig, gate: Gate, db_url: str) -> None:
    with http(gate) as c:
        mine = c.post("/v1/requests", json=BODY).json()
    assert rig.ledger.get_ticket(mine["id"]).agent == gate.agent
    approve(rig, mine["id"])
    with running_gateway(rig, db_url, agent="other-bot") as other, http(other) as c:
        for method, path in [("GET", ""), ("POST", "/execution"), ("POST", "/cancel"),
                             ("POST", "/outcome")]:
            body = {"reason": "x"} if path == "/cancel" else (
                {"ok": True} if path == "/outcome" else None)
            resp = c.request(method, f"/v1/requests/{mine['id']}{path}", json=body)
            assert resp.status_code == 404, (path, resp.text)
            assert resp.json()["error"] == "not_found"
        # The same idempotency key from another agent is another ticket, not a peek at ours.
        key = {**BODY, "idempotency_key": "k1"}
        theirs = c.post("/v1/requests", json=key).json()
    with http(gate) as c:
        again = c.post("/v1/requests", json=key).json()
    assert theirs["id"] != again["id"] and again["idempotency_key"] == "k1"
    assert rig.ledger.get_ticket(mine["id"]).status == TicketStatus.APPROVED


def test_bad_input_is_422_with_field_errors(gate: Gate) -> None:
    with http(gate) as c:
        resp = c.post("/v1/requests", json={"action": "", "args": [], "requested_by": "U0X"})
        doc = resp.json()
        assert resp.status_code == 422 and doc["error"] == "invalid_request"
        assert {tuple(f["loc"])[-1] for f in doc["fields"]} >= {"action", "args", "reason"}
        wait = c.get("/v1/requests/t1?wait=61")
        assert wait.status_code == 422 and wait.json()["fields"][0]["loc"] == ["query", "wait"]


def test_past_max_pending_the_agent_gets_429_and_no_card(rig: Rig, db_url: str) -> None:
    with running_gateway(rig, db_url, agent="loop-bot", max_pending=2) as g, http(g) as c:
        for n in range(2):
            assert c.post("/v1/requests", json={**BODY, "args": {**ARGS, "amount": n + 1}}
                          ).json()["status"] == "pending"
        resp = c.post("/v1/requests", json={**BODY, "args": {**ARGS, "amount": 3}})
        assert resp.status_code == 429 and resp.json()["error"] == "too_many_pending"
        assert int(resp.headers["Retry-After"]) > 0
    assert len(rig.sandbox.calls("chat.postMessage")) == 2
    assert len(rig.ledger.list_tickets()) == 2


def test_concurrent_requests_cannot_all_slip_under_the_cap(rig: Rig, db_url: str) -> None:
    """The cap is counted in the transaction that opens the ticket, with the agent's row
    locked: twelve requests at once against a cap of three open exactly three."""
    with running_gateway(rig, db_url, agent="burst-bot", max_pending=3) as g:
        start = threading.Barrier(12)

        def post(n: int) -> int:
            with http(g) as c:
                start.wait()
                body = {**BODY, "args": {**ARGS, "amount": n + 1}}
                return c.post("/v1/requests", json=body).status_code

        with ThreadPoolExecutor(12) as pool:
            codes = sorted(pool.map(post, range(12)))
    assert codes == [200] * 3 + [429] * 9
    opened = [t for t in rig.ledger.list_tickets() if t.agent == "burst-bot"]
    assert len(opened) == 3 and all(t.status == TicketStatus.PENDING for t in opened)
    assert len(rig.sandbox.calls("chat.postMessage")) == 3


def test_at_the_cap_a_retry_gets_its_ticket_and_allowed_calls_still_run(rig: Rig,
                                                                       db_url: str) -> None:
    with running_gateway(rig, db_url, agent="cap-bot", max_pending=1) as g, http(g) as c:
        first = c.post("/v1/requests", json={**BODY, "idempotency_key": "k1"}).json()
        again = c.post("/v1/requests", json={**BODY, "idempotency_key": "k1"})
        assert again.status_code == 200 and again.json()["id"] == first["id"]
        lookup = c.post("/v1/requests", json={
            "action": "search_orders", "args": {"q": "cus_42"}, "reason": "lookup",
            "requested_by": "U0REQUESTER"})
        assert lookup.status_code == 200 and lookup.json()["status"] == "approved"
        refused = c.post("/v1/requests", json={**BODY, "args": {**ARGS, "amount": 7}})
        assert refused.status_code == 429 and "1 open requests" in refused.json()["message"]
    assert len(rig.ledger.list_tickets([TicketStatus.PENDING])) == 1


def test_long_poll_returns_as_soon_as_the_ticket_is_decided(rig: Rig, gate: Gate) -> None:
    with http(gate) as c:
        ticket = c.post("/v1/requests", json=BODY).json()
        assert ticket["status"] == "pending"
        began = time.monotonic()
        quiet = c.get(f"/v1/requests/{ticket['id']}", params={"wait": 0.3}).json()
        assert quiet["status"] == "pending" and time.monotonic() - began >= 0.3
        clicked: list[float] = []

        def click() -> None:
            time.sleep(0.3)
            clicked.append(time.monotonic())
            rig.sandbox.click("U0PAYLEAD", action_id=ACTION_APPROVE, channel="C0PAYMENTS")

        threading.Thread(target=click).start()
        doc = c.get(f"/v1/requests/{ticket['id']}", params={"wait": 30}).json()
        returned = time.monotonic()
    assert doc["status"] == "approved"
    assert returned - clicked[0] < 5  # a decision, not the 30 s timeout, ended the wait


def test_execution_is_claimed_once_with_a_receipt_the_tool_can_verify(rig: Rig,
                                                                      gate: Gate) -> None:
    with http(gate) as c:
        ticket = c.post("/v1/requests", json=BODY).json()
        assert c.post(f"/v1/requests/{ticket['id']}/execution").json()["error"] == \
            "not_approved"
        approve(rig, ticket["id"])
        claim = c.post(f"/v1/requests/{ticket['id']}/execution", json={"args": ARGS})
        assert claim.status_code == 200, claim.text
        second = c.post(f"/v1/requests/{ticket['id']}/execution")
        assert second.status_code == 409 and second.json()["error"] == "already_claimed"
        jwks = c.get("/v1/keys").json()
        done = c.post(f"/v1/requests/{ticket['id']}/outcome", json={"ok": True,
                                                                    "summary": "refunded"})
    doc = claim.json()
    assert doc["args"] == ARGS and doc["ticket"]["status"] == "executing"
    claims = verify(doc["receipt"], action="issue_refund", args=ARGS, keys=jwks)
    assert claims["sub"] == ticket["id"] and claims["approvers"] == ["U0PAYLEAD"]
    assert claims["args_sha256"] == doc["args_sha256"] and claims["agent"] == gate.agent
    with pytest.raises(ReceiptInvalid) as wrong:
        verify(doc["receipt"], action="issue_refund", args={**ARGS, "amount": 9999}, keys=jwks)
    assert wrong.value.code == "wrong_arguments"
    with pytest.raises(ReceiptInvalid) as other:
        verify(doc["receipt"], action="delete_customer", args=ARGS, keys=jwks)
    assert other.value.code == "wrong_action"
    assert done.json()["status"] == "executed"
    kinds = [e.kind for e in rig.ledger.audit_events(ticket_id=ticket["id"])]
    actors = {e.kind: e.actor for e in rig.ledger.audit_events(ticket_id=ticket["id"])}
    assert "executing" in kinds and actors["created"] == actors["executed"] == gate.agent


def test_a_receipt_is_redeemed_once_under_twenty_concurrent_redeemers(rig: Rig,
                                                                      gate: Gate) -> None:
    with http(gate) as c:
        ticket = c.post("/v1/requests", json=BODY).json()
        approve(rig, ticket["id"])
        receipt = c.post(f"/v1/requests/{ticket['id']}/execution").json()["receipt"]

    def redeem(_: int) -> tuple[int, Any]:
        with httpx.Client(base_url=gate.url, timeout=30) as anon:
            resp = anon.post("/v1/receipts/redeem", json={"receipt": receipt})
            return resp.status_code, resp.json()

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(redeem, range(20)))
    codes = sorted(code for code, _ in results)
    assert codes == [200] + [409] * 19, results
    assert {d["error"] for code, d in results if code == 409} == {"already_redeemed"}
    with httpx.Client(base_url=gate.url) as anon:
        forged = anon.post("/v1/receipts/redeem", json={"receipt": receipt[:-4] + "AAAA"})
    assert forged.status_code == 422 and forged.json()["error"].startswith("receipt_")


def test_openapi_is_generated_from_the_models(gate: Gate) -> None:
    with http(gate, "") as c:
        doc = c.get("/v1/openapi.json").json()
    assert {"/v1/requests", "/v1/requests/{ticket_id}", "/v1/requests/{ticket_id}/execution",
            "/v1/keys", "/v1/receipts/redeem"} <= set(doc["paths"])
    schemas = doc["components"]["schemas"]
    assert set(schemas["RequestIn"]["required"]) == {"action", "reason", "requested_by"}
    assert schemas["ErrorOut"]["required"] == ["error", "message"]
    post = doc["paths"]["/v1/requests"]["post"]["responses"]
    assert {"401", "403", "422", "429"} <= set(post)


def test_a_signing_key_that_cannot_be_loaded_consumes_no_approval(rig: Rig,
                                                                   gate: Gate) -> None:
    """The receipt key is loaded before the claim: with the wrong passphrase the agent gets
    a 503 naming the fix, and the approval still stands for the claim that follows."""
    gate.gateway.passphrase = b"the right one"
    with http(gate) as c:
        first = c.post("/v1/requests", json=BODY).json()
        approve(rig, first["id"])
        assert c.post(f"/v1/requests/{first['id']}/execution").status_code == 200  # key made
        ticket = c.post("/v1/requests", json={**BODY, "args": {**ARGS, "amount": 7}}).json()
        approve(rig, ticket["id"])
        gate.gateway.passphrase = b"a wrong one"
        refused = c.post(f"/v1/requests/{ticket['id']}/execution")
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"] == "receipt_key_unusable"
        assert "SIGNOFF_KEYS_PASSPHRASE" in refused.json()["message"]
        assert rig.ledger.get_ticket(ticket["id"]).status == TicketStatus.APPROVED
        gate.gateway.passphrase = b"the right one"
        again = c.post(f"/v1/requests/{ticket['id']}/execution")
    assert again.status_code == 200, again.text
    assert rig.ledger.get_ticket(ticket["id"]).status == TicketStatus.EXECUTING


LOOKUP = {"action": "search_orders", "args": {"q": "cus_42"}, "reason": "lookup",
          "requested_by": "U0REQUESTER"}


def test_claim_with_the_request_runs_only_what_policy_allows_outright(rig: Rig,
                                                                      gate: Gate) -> None:
    """``claim: true`` saves the allowed call its second round trip; a pending request, a
    retry of an earlier one and a reviewed approval are never claimed by it."""
    with http(gate) as c:
        doc = c.post("/v1/requests", json={**LOOKUP, "claim": True, "idempotency_key": "l1"})
        assert doc.status_code == 200, doc.text
        claimed = doc.json()
        assert claimed["ticket"]["status"] == "executing" and claimed["args"] == LOOKUP["args"]
        verify(claimed["receipt"], action="search_orders", args=LOOKUP["args"],
               keys=gate.gateway.jwks())
        ticket_id = claimed["ticket"]["id"]
        again = c.post("/v1/requests", json={**LOOKUP, "claim": True, "idempotency_key": "l1"})
        assert again.json()["id"] == ticket_id and "receipt" not in again.json()
        second = c.post(f"/v1/requests/{ticket_id}/execution")
        assert second.status_code == 409 and second.json()["error"] == "already_claimed"
        assert c.post(f"/v1/requests/{ticket_id}/outcome", json={"ok": True}
                      ).json()["status"] == "executed"
        pending = c.post("/v1/requests", json={**BODY, "claim": True}).json()
        assert pending["status"] == "pending" and "receipt" not in pending
    kinds = [e.kind for e in rig.ledger.audit_events(ticket_id=ticket_id)]
    assert kinds.count("executing") == 1 and kinds[-1] == "executed"
    assert rig.ledger.get_ticket(pending["id"]).status == TicketStatus.PENDING


def test_claim_with_the_request_claims_nothing_when_the_key_cannot_be_loaded(
        rig: Rig, gate: Gate) -> None:
    gate.gateway.passphrase = b"the right one"
    with http(gate) as c:
        assert c.post("/v1/requests", json={**LOOKUP, "claim": True}).json()["receipt"]
        gate.gateway.passphrase = b"a wrong one"
        doc = c.post("/v1/requests", json={**LOOKUP, "args": {"q": "x"}, "claim": True})
        assert doc.status_code == 200 and doc.json()["status"] == "approved"
        refused = c.post(f"/v1/requests/{doc.json()['id']}/execution")
    assert refused.status_code == 503 and refused.json()["error"] == "receipt_key_unusable"
    assert rig.ledger.get_ticket(doc.json()["id"]).status == TicketStatus.APPROVED


def test_the_http_backend_claims_an_allowed_call_in_one_round_trip(gate: Gate) -> None:
    from bot import current_receipt
    from bot.agent.backend import ApprovalRequest
    from bot.agent.http import HttpBackend

    sent: list[str] = []
    transport = httpx.HTTPTransport()

    class Counting(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            sent.append(f"{request.method} {request.url.path}")
            return transport.handle_request(request)

    backend = HttpBackend(gate.url, gate.token, transport=Counting())
    try:
        ticket, claimed = backend.request_claimed(ApprovalRequest(
            action="search_orders", args={"q": "cus_7"}, reason="lookup",
            requested_by="U0REQUESTER"), claim_as="anyone")
        assert claimed and ticket.status == TicketStatus.EXECUTING
        assert current_receipt() is not None
        assert sent == ["POST /v1/requests"]
        plain, claimed = backend.request_claimed(ApprovalRequest(
            action="search_orders", args={"q": "cus_8"}, reason="lookup",
            requested_by="U0REQUESTER"), claim_as=None)
        assert not claimed and plain.status == TicketStatus.APPROVED
    finally:
        backend.close()
