"""Plan-level approval end to end: one card for a short plan, each step run once, in order,
with exactly the approved arguments; a denied step denies the plan before any card; a step
edited before approval; a reviewer stopping the rest; the deadline. Real bot behind the real
server, signed clicks, the local Slack server, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from bot import (
    ApprovalClient,
    ApprovalDenied,
    ApprovalPending,
    AsyncApprovalClient,
    IdempotencyConflict,
    InvalidRequest,
    PlanStepRefused,
    TicketStatus,
    current_receipt,
)
from bot.receipts import verify
from bot.render import ACTION_APPROVE
from bot.render.plan import ACTION_PLAN_EDIT_STEP, ACTION_PLAN_STOP
from store.errors import ReceiptInvalid
from store.models import PLAN_ACTION, PlanStepState
from store.plans import PlanStore
from store.tables import PlanRow, PlanStepRow
from tests.e2e.conftest import Gate, Rig, running_gateway
from tests.e2e.test_reviews import settled, wait_ephemeral

LOOKUP = {"action": "search_orders", "args": {"q": "cus_42"}}
PAUSE = {"action": "pause_subscription", "args": {"customer": "cus_42"}}
REFUND = {"action": "issue_refund", "args": {"amount": 120, "customer": "cus_42"}}
STEPS = [LOOKUP, PAUSE, REFUND]


def plan(client: ApprovalClient, steps: list[dict[str, Any]] | None = None, **kw: Any) -> Any:
    return client.request_plan(steps or STEPS, reason="double charge: look, pause, refund",
                               requested_by="U0REQUESTER", **kw)


def tools(ran: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    def make(name: str) -> Any:
        return lambda **kw: ran.append((name, kw)) or f"{name} ok"
    return {s["action"]: make(s["action"]) for s in (LOOKUP, PAUSE, REFUND)}


def approve(rig: Rig, plan_id: str, user: str = "U0PAYLEAD", decisions: int = 1) -> Any:
    assert rig.sandbox.click(user, action_id=ACTION_APPROVE, channel="C0PAYMENTS",
                             message_ts=rig.card_ts(plan_id)).ok
    return settled(rig, plan_id, decisions=decisions)


def step_rows(rig: Rig, plan_id: str) -> list[tuple[int, str, str]]:
    with rig.ledger.transactions(write=False) as s:
        rows = s.execute(select(PlanStepRow).where(PlanStepRow.ticket_id == plan_id)
                         .order_by(PlanStepRow.idx)).scalars().all()
        return [(r.idx, r.action, r.state) for r in rows]


def kinds(rig: Rig, plan_id: str) -> list[str]:
    return [e.kind for e in rig.ledger.audit_events(ticket_id=plan_id)]


def card(rig: Rig, plan_id: str, needle: str) -> Any:
    return rig.sandbox.wait_until(lambda: next(
        (m for m in rig.sandbox.messages("C0PAYMENTS")
         if m.ts == rig.card_ts(plan_id) and needle in str(m.blocks)), None))


def test_a_plan_runs_only_its_steps_in_order(rig: Rig, client: ApprovalClient) -> None:
    ran: list[tuple[str, dict[str, Any]]] = []
    fn = tools(ran)
    ticket = plan(client)
    assert ticket.action == PLAN_ACTION and ticket.status == TicketStatus.PENDING
    # One card, on the strictest step's route (the refund: payments, high).
    assert ticket.route.name == "payments" and ticket.tier.value == "high"
    posts = [c for c in rig.sandbox.calls("chat.postMessage")]
    assert len(posts) == 1
    shown = card(rig, ticket.id, "Approve plan")
    assert all(s["action"] in str(shown.blocks) for s in STEPS)
    with pytest.raises(ApprovalPending):
        client.run_step(ticket.id, fn["search_orders"], action="search_orders")
    assert approve(rig, ticket.id).status == TicketStatus.APPROVED
    # Out of order, other arguments, a step not in the plan: refused, nothing runs.
    with pytest.raises(PlanStepRefused, match="comes first"):
        client.run_step(ticket.id, fn["issue_refund"], REFUND["args"], action="issue_refund")
    with pytest.raises(PlanStepRefused, match="not the ones approved"):
        client.run_step(ticket.id, fn["search_orders"], {"q": "cus_43"},
                            action="search_orders")
    with pytest.raises(PlanStepRefused, match="not in the plan"):
        client.run_step(ticket.id, lambda **kw: ran.append(("x", kw)), {"amount": 1},
                            action="issue_credit")
    # Executing the plan as a whole is refused too.
    with pytest.raises(PlanStepRefused, match="never runs as a whole"):
        client.execute(ticket.id, lambda **kw: ran.append(("plan", kw)), action=PLAN_ACTION)
    assert ran == [] and step_rows(rig, ticket.id) == []
    for step in STEPS:
        assert client.run_step(ticket.id, fn[step["action"]], action=step["action"]) \
            == f"{step['action']} ok"
    assert ran == [(s["action"], s["args"]) for s in STEPS]
    with pytest.raises(PlanStepRefused, match="every step already ran"):
        client.run_step(ticket.id, fn["search_orders"], action="search_orders")
    assert step_rows(rig, ticket.id) == [(i, s["action"], "done") for i, s in enumerate(STEPS)]
    assert kinds(rig, ticket.id).count("plan_step_started") == 3
    assert kinds(rig, ticket.id).count("plan_step_refused") == 4
    progress = client.plan(ticket.id)
    assert progress.ended == "done" and progress.count(PlanStepState.DONE) == 3
    card(rig, ticket.id, "3 done")


def test_a_changed_step_waits_for_its_own_approval(rig: Rig, client: ApprovalClient) -> None:
    ticket = plan(client)
    approve(rig, ticket.id)
    client.run_step(ticket.id, lambda **kw: "found", action="search_orders")
    bigger = {"customer": "cus_42", "months": 3}
    with pytest.raises(PlanStepRefused, match=r"client\.request"):
        client.run_step(ticket.id, lambda **kw: "paused", bigger,
                            action="pause_subscription")
    own = client.request("pause_subscription", bigger, reason="pause longer",
                             requested_by="U0REQUESTER")
    assert own.status == TicketStatus.PENDING and own.card is not None
    assert own.id != ticket.id
    # The plan's own step is still there, unconsumed.
    assert client.run_step(ticket.id, lambda **kw: "paused",
                               action="pause_subscription") == "paused"


def test_a_denied_step_denies_the_plan_before_any_card(rig: Rig, client: ApprovalClient) -> None:
    drop = {"action": "drop_database", "args": {"name": "orders"}}
    with pytest.raises(ApprovalDenied) as info:
        plan(client, [LOOKUP, drop, REFUND])
    assert info.value.action == "drop_database" and "step 2" in str(info.value)
    assert rig.sandbox.calls("chat.postMessage") == []
    with rig.ledger.transactions(write=False) as s:
        assert s.execute(select(PlanStepRow)).first() is None
    denied = [e for e in rig.ledger.audit_events() if e.kind == "denied"]
    assert denied[-1].data["step_action"] == "drop_database"
    assert denied[-1].data["action"] == PLAN_ACTION


def test_two_people_when_any_step_needs_two(rig: Rig) -> None:
    big = {"action": "issue_refund", "args": {"amount": 5000, "customer": "cus_42"}}
    ticket = plan(rig.client, [LOOKUP, big])
    assert ticket.tier.value == "critical" and ticket.route.approvals_required == 2
    assert approve(rig, ticket.id).status == TicketStatus.PENDING
    card(rig, ticket.id, "1 of 2")  # the second reviewer clicks the card as it is now
    with pytest.raises(ApprovalPending):
        rig.client.run_step(ticket.id, lambda **kw: "x", action="search_orders")
    assert approve(rig, ticket.id, "U0FINOPS", 2).status == TicketStatus.APPROVED


def test_a_plan_cannot_be_requested_as_an_action(rig: Rig) -> None:
    with pytest.raises(InvalidRequest, match="request_plan"):
        rig.client.request(PLAN_ACTION, {"steps": [{"action": "drop_database", "args": {}}]},
                           reason="sneak", requested_by="U0REQUESTER")
    with pytest.raises(InvalidRequest, match="a plan cannot contain a plan"):
        plan(rig.client, [{"action": PLAN_ACTION, "args": {}}])
    assert rig.sandbox.calls("chat.postMessage") == []


def test_edit_a_step_before_approval(rig: Rig) -> None:
    ticket = plan(rig.client)
    assert rig.sandbox.click("U0FINOPS", action_id=f"{ACTION_PLAN_EDIT_STEP}:2",
                             channel="C0PAYMENTS").ok
    form = rig.sandbox.wait_until(lambda: rig.sandbox.views("U0FINOPS"))
    assert "Step 3" in str(form[-1].blocks if hasattr(form[-1], "blocks") else form[-1])
    done = rig.sandbox.submit("U0FINOPS", {"arg:amount": {"signoff_edit_value": "80"}})
    assert done.ok and done.response_action is None
    after = settled(rig, ticket.id)
    assert after.status == TicketStatus.APPROVED
    assert after.final_args["steps"][2]["args"] == {"amount": 80, "customer": "cus_42"}
    assert after.final_args["steps"][:2] == [LOOKUP, PAUSE]
    for step in (LOOKUP, PAUSE):
        rig.client.run_step(ticket.id, lambda **kw: "ok", action=step["action"])
    with pytest.raises(PlanStepRefused, match="not the ones approved"):
        rig.client.run_step(ticket.id, lambda **kw: "ok", REFUND["args"], action="issue_refund")
    ran: list[dict[str, Any]] = []
    rig.client.run_step(ticket.id, lambda **kw: ran.append(kw), action="issue_refund")
    assert ran == [{"amount": 80, "customer": "cus_42"}]


def test_an_edit_that_needs_two_people_keeps_the_plan_waiting(rig: Rig) -> None:
    ticket = plan(rig.client, [LOOKUP, {"action": "issue_refund",
                                        "args": {"amount": 120, "customer": "cus_42"}}])
    rig.sandbox.click("U0FINOPS", action_id=f"{ACTION_PLAN_EDIT_STEP}:1", channel="C0PAYMENTS")
    rig.sandbox.wait_until(lambda: rig.sandbox.views("U0FINOPS"))
    # A much larger refund needs two people now: the edit moves the plan, not approves it.
    moved = rig.sandbox.submit("U0FINOPS", {"arg:amount": {"signoff_edit_value": "9000"}})
    assert moved.ok
    after = settled(rig, ticket.id)
    assert after.route.approvals_required == 2 and after.status == TicketStatus.PENDING


def test_stop_mid_plan(rig: Rig, client: ApprovalClient) -> None:
    ticket = plan(client)
    approve(rig, ticket.id)
    client.run_step(ticket.id, lambda **kw: "found", action="search_orders")
    card(rig, ticket.id, "Stop plan")
    rig.sandbox.click("U0OUTSIDER", action_id=ACTION_PLAN_STOP, channel="C0PAYMENTS")
    wait_ephemeral(rig, "U0OUTSIDER", "approver")
    assert client.plan(ticket.id).ended is None
    rig.sandbox.click("U0FINOPS", action_id=ACTION_PLAN_STOP, channel="C0PAYMENTS")
    wait_ephemeral(rig, "U0FINOPS", "stopped the plan")
    progress = client.plan(ticket.id)
    assert progress.ended == "stopped" and progress.ended_by == "U0FINOPS"
    assert [s.state for s in progress.steps] == [PlanStepState.DONE, PlanStepState.STOPPED,
                                                PlanStepState.STOPPED]
    with pytest.raises(PlanStepRefused, match="stopped"):
        client.run_step(ticket.id, lambda **kw: "paused", action="pause_subscription")
    assert "plan_stopped" in kinds(rig, ticket.id)
    assert step_rows(rig, ticket.id) == [(0, "search_orders", "done")]
    card(rig, ticket.id, "Plan stopped")


def test_unstarted_steps_expire_with_the_deadline(rig: Rig) -> None:
    ticket = plan(rig.client, deadline=timedelta(minutes=5))
    approved = approve(rig, ticket.id)
    rig.client.run_step(ticket.id, lambda **kw: "found", action="search_orders")
    assert approved.decided_at is not None
    # The sweep at a time before the deadline changes nothing; after it, the plan expires.
    sweep = rig.service.plan_sweep()
    assert sweep.tick(approved.decided_at + timedelta(minutes=4)) == []
    assert sweep.tick(approved.decided_at + timedelta(minutes=6)) == [ticket.id]
    progress = rig.client.plan(ticket.id)
    assert progress.ended == "expired"
    assert [s.state for s in progress.steps][1:] == [PlanStepState.EXPIRED] * 2
    with pytest.raises(PlanStepRefused, match="deadline"):
        rig.client.run_step(ticket.id, lambda **kw: "paused", action="pause_subscription")
    assert "plan_expired" in kinds(rig, ticket.id)
    card(rig, ticket.id, "Plan expired")


def test_a_step_raced_by_threads_runs_once(rig: Rig) -> None:
    ticket = plan(rig.client)
    approve(rig, ticket.id)
    store = PlanStore(rig.ledger)
    barrier = threading.Barrier(6)
    won: list[int] = []
    refused: list[str] = []

    def claim() -> None:
        barrier.wait()
        try:
            won.append(store.start_step(ticket.id, action="search_orders",
                                        args=LOOKUP["args"], actor="racer").index)
        except PlanStepRefused as exc:
            refused.append(str(exc))

    threads = [threading.Thread(target=claim) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert won == [0] and len(refused) == 5
    assert step_rows(rig, ticket.id) == [(0, "search_orders", "running")]


def test_the_async_client_runs_a_plan_over_the_gateway(rig: Rig, gate: Gate) -> None:
    ran: list[tuple[str, dict[str, Any]]] = []

    receipts: list[str | None] = []

    async def refund(amount: int, customer: str) -> str:
        await asyncio.sleep(0)
        ran.append(("issue_refund", {"amount": amount, "customer": customer}))
        receipts.append(current_receipt())
        return "refunded"

    async def agent() -> str:
        async with AsyncApprovalClient(gate.url, gate.token) as aclient:
            with pytest.raises(ApprovalDenied):
                await aclient.request_plan([LOOKUP, {"action": "drop_database", "args": {}}],
                                           reason="x", requested_by="U0REQUESTER")
            ticket = await aclient.request_plan([LOOKUP, REFUND], reason="look, refund",
                                                requested_by="U0REQUESTER")
            approve(rig, ticket.id)
            gated = aclient.gate("issue_refund")(refund)
            with pytest.raises(PlanStepRefused, match="comes first"):
                await aclient.run_step(ticket.id, gated)
            await aclient.run_step(ticket.id, lambda **kw: ran.append(("search_orders", kw)),
                                   action="search_orders")
            assert await aclient.run_step(ticket.id, gated) == "refunded"
            with pytest.raises(PlanStepRefused):
                await aclient.run_step(ticket.id, gated)
            return (await aclient.plan(ticket.id)).ended or ""

    with ThreadPoolExecutor(1) as pool:
        ended = pool.submit(asyncio.run, agent()).result(timeout=120)
    assert ended == "done"
    assert ran == [("search_orders", LOOKUP["args"]), ("issue_refund", REFUND["args"])]
    assert receipts[0] is not None
    verify(receipts[0], action="issue_refund", args=REFUND["args"], keys=gate.gateway.jwks())


def test_the_gateway_scopes_plans_to_the_token(rig: Rig, gate: Gate) -> None:
    _, narrow = gate.gateway.agents.add("search-bot", actions=("search_*",), max_pending=5)
    body = {"steps": [LOOKUP, REFUND], "reason": "look, refund", "requested_by": "U0REQUESTER"}
    with httpx.Client(base_url=gate.url, timeout=30,
                      headers={"Authorization": f"Bearer {narrow}"}) as c:
        refused = c.post("/v1/plans", json=body)
        assert refused.status_code == 403 and refused.json()["error"] == "action_not_allowed"
        assert "issue_refund" in refused.json()["message"]
    assert rig.sandbox.calls("chat.postMessage") == []
    with httpx.Client(base_url=gate.url, timeout=30,
                      headers={"Authorization": f"Bearer {gate.token}"}) as c:
        made = c.post("/v1/plans", json=body).json()
        assert made["status"] == "pending" and made["action"] == PLAN_ACTION
        plan_id = made["id"]
        sneak = c.post("/v1/requests", json={
            "action": PLAN_ACTION, "args": {"steps": [LOOKUP]}, "reason": "sneak",
            "requested_by": "U0REQUESTER"})
        assert sneak.status_code == 422 and "request_plan" in sneak.json()["message"]
        approve(rig, plan_id)
        whole = c.post(f"/v1/requests/{plan_id}/execution", json={"action": PLAN_ACTION})
        assert whole.status_code == 409 and whole.json()["error"] == "plan_step_refused"
        early = c.post(f"/v1/plans/{plan_id}/steps", json={"action": "issue_refund"})
        assert early.status_code == 409 and "comes first" in early.json()["message"]
        step = c.post(f"/v1/plans/{plan_id}/steps", json={"action": "search_orders"}).json()
        assert step["index"] == 0 and step["args"] == LOOKUP["args"]
        keys = gate.gateway.jwks()
        claims = verify(step["receipt"], action="search_orders", args=LOOKUP["args"], keys=keys)
        assert claims["sub"] == plan_id and claims["approvers"] == ["U0PAYLEAD"]
        with pytest.raises(ReceiptInvalid):
            verify(step["receipt"], action="search_orders", args={"q": "cus_43"}, keys=keys)
        with pytest.raises(ReceiptInvalid):
            verify(step["receipt"], action="issue_refund", args=LOOKUP["args"], keys=keys)
        again = c.post(f"/v1/plans/{plan_id}/steps", json={"action": "search_orders"})
        assert again.status_code == 409
        doc = c.get("/v1/openapi.json").json()
        assert {"/v1/plans", "/v1/plans/{plan_id}/steps"} <= set(doc["paths"])
    with httpx.Client(base_url=gate.url, timeout=30,
                      headers={"Authorization": f"Bearer {narrow}"}) as c:
        assert c.get(f"/v1/plans/{plan_id}").status_code == 404  # another agent's plan
        assert c.post(f"/v1/plans/{plan_id}/steps",
                      json={"action": "search_orders"}).status_code == 404
    assert step_rows(rig, plan_id) == [(0, "search_orders", "running")]


def test_a_plan_policy_allows_outright_posts_no_card_but_still_runs_in_order(rig: Rig) -> None:
    steps = [LOOKUP, {"action": "search_invoices", "args": {"customer": "cus_42"}}]
    ticket = plan(rig.client, steps)
    assert ticket.status == TicketStatus.APPROVED and ticket.card is None
    assert rig.sandbox.calls("chat.postMessage") == []
    with pytest.raises(PlanStepRefused, match="comes first"):
        rig.client.run_step(ticket.id, lambda **kw: "x", action="search_invoices")
    for step in steps:
        rig.client.run_step(ticket.id, lambda **kw: "ok", action=step["action"])
    assert rig.client.plan(ticket.id).ended == "done"


def test_a_failed_step_ends_the_plan(rig: Rig) -> None:
    steps = [LOOKUP, {"action": "search_invoices", "args": {"customer": "cus_42"}}]
    ticket = plan(rig.client, steps)

    def broken(**_kw: Any) -> None:
        raise RuntimeError("search backend down")

    with pytest.raises(RuntimeError):
        rig.client.run_step(ticket.id, broken, action="search_orders")
    progress = rig.client.plan(ticket.id)
    assert progress.ended == "failed"
    assert progress.steps[0].state == PlanStepState.FAILED
    assert "search backend down" in (progress.steps[0].error or "")
    assert progress.steps[1].state == PlanStepState.STOPPED
    with pytest.raises(PlanStepRefused, match="earlier step failed"):
        rig.client.run_step(ticket.id, lambda **kw: "ok", action="search_invoices")
    # Reporting an outcome for a step that is not running is refused, and changes nothing.
    with pytest.raises(PlanStepRefused, match="not running"):
        PlanStore(rig.ledger).finish_step(ticket.id, 0, ok=True, actor="agent")


def test_the_deadline_holds_at_the_moment_a_step_starts(rig: Rig) -> None:
    steps = [LOOKUP, {"action": "search_invoices", "args": {"customer": "cus_42"}}]
    ticket = plan(rig.client, steps, deadline=60)
    rig.client.run_step(ticket.id, lambda **kw: "ok", action="search_orders")
    # No sweep has run; the deadline is checked by the database's clock when a step starts.
    with rig.ledger.transactions() as s:
        s.execute(update(PlanRow).where(PlanRow.ticket_id == ticket.id).values(deadline_s=0))
    with pytest.raises(PlanStepRefused, match="deadline passed"):
        rig.client.run_step(ticket.id, lambda **kw: "ok", action="search_invoices")
    assert rig.client.plan(ticket.id).ended == "expired"
    assert step_rows(rig, ticket.id) == [(0, "search_orders", "done")]


def test_threads_running_the_same_step_run_it_once(rig: Rig, client: ApprovalClient) -> None:
    ticket = plan(client)
    approve(rig, ticket.id)
    ran: list[dict[str, Any]] = []
    refused: list[Exception] = []
    barrier = threading.Barrier(4)

    def run() -> None:
        barrier.wait()
        try:
            client.run_step(ticket.id, lambda **kw: ran.append(kw), action="search_orders")
        except PlanStepRefused as exc:
            refused.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert ran == [LOOKUP["args"]] and len(refused) == 3
    assert step_rows(rig, ticket.id) == [(0, "search_orders", "done")]


def test_a_step_that_never_reports_halts_the_plan_and_never_reruns(rig: Rig) -> None:
    ticket = plan(rig.client)
    approved = approve(rig, ticket.id)
    store = PlanStore(rig.ledger)
    store.start_step(ticket.id, action="search_orders", args=LOOKUP["args"], actor="agent")
    # The executor dies here. Within its lease nothing changes; after it the step is lost.
    sweep = rig.service.plan_sweep()
    started = approved.decided_at
    assert started is not None
    assert sweep.tick(started + timedelta(minutes=1)) == []
    assert sweep.tick(started + rig.config.execution_lease + timedelta(minutes=1)) \
        == [ticket.id]
    progress = rig.client.plan(ticket.id)
    assert progress.ended == "outcome_unknown"
    assert [s.state for s in progress.steps] == [PlanStepState.OUTCOME_UNKNOWN,
                                                PlanStepState.STOPPED, PlanStepState.STOPPED]
    with pytest.raises(PlanStepRefused, match="never reported"):
        rig.client.run_step(ticket.id, lambda **kw: "x", action="pause_subscription")
    with pytest.raises(PlanStepRefused):
        rig.client.run_step(ticket.id, lambda **kw: "x", action="search_orders")
    # A late report still settles what happened to that step; the plan stays halted.
    late = store.finish_step(ticket.id, 0, ok=True, actor="agent", summary="it did run")
    assert late.steps[0].state == PlanStepState.DONE and late.ended == "outcome_unknown"
    assert "plan_step_outcome_unknown" in kinds(rig, ticket.id)
    card(rig, ticket.id, "Plan halted")


def test_an_idempotency_key_names_one_plan(rig: Rig, client: ApprovalClient) -> None:
    first = plan(client, idempotency_key="run-7:plan")
    again = plan(client, idempotency_key="run-7:plan")
    assert again.id == first.id
    assert len(rig.sandbox.calls("chat.postMessage")) == 1  # no second card
    with pytest.raises(IdempotencyConflict):
        plan(client, [LOOKUP, REFUND], idempotency_key="run-7:plan")


def test_a_plan_counts_against_the_agents_cap_of_open_requests(rig: Rig, db_url: str) -> None:
    body = {"steps": [LOOKUP, REFUND], "reason": "look, refund", "requested_by": "U0REQUESTER"}
    with running_gateway(rig, db_url, agent="plan-bot", max_pending=1) as g, \
            httpx.Client(base_url=g.url, timeout=30,
                         headers={"Authorization": f"Bearer {g.token}"}) as c:
        first = c.post("/v1/plans", json={**body, "idempotency_key": "p1"})
        assert first.status_code == 200 and first.json()["status"] == "pending"
        again = c.post("/v1/plans", json={**body, "idempotency_key": "p1"})
        assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
        second = c.post("/v1/plans", json={**body, "reason": "another"})
        assert second.status_code == 429 and second.json()["error"] == "too_many_pending"
        assert int(second.headers["Retry-After"]) > 0
    assert [t.id for t in rig.ledger.list_tickets() if t.agent == "plan-bot"] == [
        first.json()["id"]]
    assert len(rig.sandbox.calls("chat.postMessage")) == 1
