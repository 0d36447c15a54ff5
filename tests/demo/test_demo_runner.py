"""``signoff demo`` without a browser: what it starts, what the agent proposes, the page's
files, and the command line."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from bot.cli import build_parser
from bot.commands.demo_cmds import welcome
from bot.demo.agent import SMALL_REFUNDS
from bot.demo.config import (
    AGENT_LOG,
    APPROVALS,
    FAST,
    NORMAL,
    PAYMENTS,
    PEOPLE,
    POLICY,
    REQUESTER,
    REVIEWER,
    SMALL_REFUND,
    Timing,
    demo_config,
)
from bot.demo.runner import Demo, DemoOptions
from bot.render import (
    ACTION_APPROVE,
    ACTION_REJECT,
    ACTION_REQUEST_INFO,
    QUESTION_ACTION,
    QUESTION_BLOCK,
    REASON_ACTION,
    REASON_BLOCK,
)
from store.models import Ticket, TicketStatus
from tests.demo.conftest import agent_cards


@pytest.fixture
def demo() -> Iterator[Demo]:
    with Demo(DemoOptions(port=0, fast=True, say=lambda _line: None)) as running:
        assert running.sandbox is not None
        sandbox = running.sandbox
        sandbox.wait_until(lambda: len(agent_cards(sandbox, PAYMENTS)) >= 2
                           and len(sandbox.messages(APPROVALS)) >= 2, timeout=10)
        yield running


def get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.headers["Content-Type"], resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers["Content-Type"], err.read()


def log_texts(demo: Demo) -> list[str]:
    assert demo.sandbox is not None
    return [m.text for m in demo.sandbox.messages(AGENT_LOG)]


def wait_log(demo: Demo, needle: str) -> str:
    assert demo.sandbox is not None
    return demo.sandbox.wait_until(
        lambda: next((t for t in log_texts(demo) if needle in t), None), timeout=30)


@pytest.mark.parametrize("timing", [NORMAL, FAST], ids=["normal", "fast"])
def test_the_demo_config_is_valid_and_its_chain_keeps_its_promise(timing: Timing) -> None:
    config = demo_config(fast=timing is FAST)
    for name in ("standard", "payments-oncall"):
        chain = config.chain(name)
        assert [lv.after.total_seconds() for lv in chain.levels] == [timing.first, timing.second]
        assert chain.expire_after.total_seconds() == timing.expire
    assert NORMAL.first == 30 and NORMAL.expires_in == 180
    assert FAST.expires_in < 60


def test_the_agent_proposes_a_mix_and_policy_sorts_it(demo: Demo) -> None:
    assert demo.ledger is not None
    wait_log(demo, "search_orders")
    wait_log(demo, "drop_database")
    ledger = demo.ledger
    # An allowed search runs at once; its log line may come a moment before its outcome.
    assert demo.sandbox is not None and demo.sandbox.wait_until(lambda: any(
        t.action == "search_orders" and t.status == TicketStatus.EXECUTED
        for t in ledger.list_tickets(limit=50)), timeout=10)
    # Every proposal runs in its own thread: wait until each refund has filed its ticket.
    def agent_refunds() -> list[Ticket]:
        return [t for t in ledger.list_tickets(limit=50)
                if t.action == "issue_refund" and t.canary is None]

    def all_filed() -> bool:
        actions = {t.action for t in ledger.list_tickets(limit=50) if t.canary is None}
        return (len(agent_refunds()) >= 2 + len(SMALL_REFUNDS)
                and {"send_email", "merge_customer_accounts"} <= actions)

    # Filing a batched refund need not touch Slack, so poll the ledger rather than the sandbox.
    deadline = time.monotonic() + 20
    while not all_filed() and time.monotonic() < deadline:
        time.sleep(0.05)
    tickets = {t.action: t for t in demo.ledger.list_tickets(limit=50) if t.canary is None}
    assert "drop_database" not in tickets  # denied before any ticket existed
    refunds = agent_refunds()  # the agent's own
    single = [t for t in refunds if t.args["amount"] > SMALL_REFUND]
    assert sorted(t.route.approvals_required for t in single) == [1, 2]
    assert len(refunds) - len(single) == len(SMALL_REFUNDS)
    assert tickets["send_email"].review_type.value == "edit"
    assert tickets["merge_customer_accounts"].review_type.value == "escalation"
    assert all(t.requested_by == REQUESTER.id for t in tickets.values())
    assert any("denied by policy" in t for t in log_texts(demo))


def test_what_policy_allows_runs_without_waiting_for_review(demo: Demo) -> None:
    ran = wait_log(demo, "`search_orders` ran without review")
    assert "policy: allow" in ran
    assert not any("`search_orders` is waiting" in t for t in log_texts(demo))


def test_the_demo_runs_the_composition_serve_runs(demo: Demo) -> None:
    service = demo.service
    assert service is not None and service.server is demo.server
    assert service.scheduler is not None, "the escalation sweep runs, as in serve"
    assert demo.client is not None and demo.client.ledger is service.ledger


def test_approved_actions_run_through_the_gate(demo: Demo) -> None:
    sb = demo.sandbox
    assert sb is not None
    # The agent posts its requests concurrently: wait for this one's card, not just any two.
    card = sb.wait_until(lambda: next(
        (m for m in sb.messages(PAYMENTS) if "cus_ada" in m.text), None), timeout=30)
    assert sb.click(REVIEWER.id, action_id=ACTION_APPROVE, channel=PAYMENTS,
                    message_ts=card.ts).ok
    wait_log(demo, "was approved and ran")
    thread = sb.wait_until(lambda: [m for m in sb.thread(PAYMENTS, card.ts)
                                    if "Executed" in m.text])
    assert "re_demo_ada" in thread[-1].text


def test_the_agent_answers_questions_and_hears_rejections(demo: Demo) -> None:
    sb = demo.sandbox
    assert sb is not None
    # The agent posts its requests concurrently: wait for this one's card, not just any two.
    card = sb.wait_until(lambda: next(
        (m for m in sb.messages(PAYMENTS) if "cus_ada" in m.text), None), timeout=30)
    sb.click(REVIEWER.id, action_id=ACTION_REQUEST_INFO, channel=PAYMENTS, message_ts=card.ts)
    sb.wait_until(lambda: sb.views(REVIEWER.id), timeout=15)
    sb.submit(REVIEWER.id, {QUESTION_BLOCK: {QUESTION_ACTION: "Which order?"}})
    wait_log(demo, "answered a reviewer's question")
    sb.wait_until(lambda: any("agent answered" in m.text for m in sb.thread(PAYMENTS, card.ts)),
                  timeout=15)
    # The thread reply comes before the card's refresh; a click on the card still waiting for
    # the answer is refused as stale (the reviewer has not seen the answer). Click what the
    # reviewer sees once the card has caught up.
    sb.wait_until(lambda: "Waiting for the answer" not in str(
        (sb.message(PAYMENTS, card.ts) or card).blocks), timeout=15)
    assert sb.click(REVIEWER.id, action_id=ACTION_REJECT, channel=PAYMENTS,
                    message_ts=card.ts).ok
    sb.wait_until(lambda: sb.views(REVIEWER.id), timeout=15)
    sb.submit(REVIEWER.id, {REASON_BLOCK: {REASON_ACTION: "already refunded by bank"}})
    assert "already refunded by bank" in wait_log(demo, "was rejected by")


def test_the_page_and_its_files_are_served(demo: Demo) -> None:
    status, kind, body = get(demo.url)
    assert status == 200 and kind.startswith("text/html") and b"/demo/app.js" in body
    for name in ("app.js", "blocks.js", "modal.js", "mrkdwn.js", "tour.js"):
        status, kind, _ = get(f"{demo.url}demo/{name}")
        assert (status, kind) == (200, "text/javascript; charset=utf-8"), name
    status, _, body = get(f"{demo.url}demo/info.json")
    info = json.loads(body)
    assert [p["id"] for p in info["people"]] == [p.id for p in PEOPLE] and info["fast"] is True
    assert get(f"{demo.url}demo/../web.py")[0] == 404
    status, _, body = get(f"{demo.url}_sandbox/state")  # the control endpoints stay reachable
    assert status == 200 and json.loads(body)["ok"] is True


def test_a_busy_port_is_reported_and_nothing_is_left_running() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        demo = Demo(DemoOptions(port=taken.getsockname()[1], agent=False))
        with pytest.raises(OSError):
            demo.start()
        assert demo.server is None and demo.ledger is None and demo.sandbox is None


def test_the_command_is_registered_and_says_what_to_try(demo: Demo) -> None:
    args = build_parser().parse_args(["demo", "--port", "0", "--no-browser", "--fast"])
    assert (args.port, args.no_browser, args.fast) == (0, True, True)
    text = welcome(demo)
    assert demo.url in text and "Rita Gomez" in text and "approve" in text


def test_the_agent_keeps_proposing_so_the_demo_never_runs_dry() -> None:
    with Demo(DemoOptions(port=0, fast=True, again_after=0.2, say=lambda _line: None)) as demo:
        sb = demo.sandbox
        assert sb is not None
        wait_log(demo, "drop_database")  # denied once; counted again below, after a repeat
        first = sb.wait_until(lambda: next(
            (m for m in sb.messages(PAYMENTS) if "cus_ada" in m.text), None), timeout=10)
        assert sb.click(REVIEWER.id, action_id=ACTION_APPROVE, channel=PAYMENTS,
                        message_ts=first.ts).ok
        try:
            again = sb.wait_until(lambda: [m for m in sb.messages(PAYMENTS)
                                           if "cus_ada" in m.text and m.ts != first.ts],
                                  timeout=10)
        except TimeoutError:
            raise AssertionError(log_texts(demo)) from None
        assert demo.ledger is not None
        waiting = demo.ledger.list_tickets([TicketStatus.PENDING], limit=100)
        assert any(t.args.get("customer") == "cus_ada" for t in waiting), again
        # what was allowed or denied by policy is not made again and again
        assert sum("drop_database" in t for t in log_texts(demo)) == 1


def test_guidance_reaches_the_agent_as_guidance(demo: Demo) -> None:
    from bot.render import ACTION_GUIDANCE, GUIDANCE_ACTION, GUIDANCE_BLOCK

    sb = demo.sandbox
    assert sb is not None
    card = sb.wait_until(lambda: next(
        (m for m in sb.messages(APPROVALS) if "Merge two customer accounts" in m.text), None),
        timeout=10)
    sb.click(REVIEWER.id, action_id=ACTION_GUIDANCE, channel=APPROVALS, message_ts=card.ts)
    sb.wait_until(lambda: sb.views(REVIEWER.id), timeout=15)
    advice = "Merge only if the billing addresses match; otherwise leave both."
    sb.submit(REVIEWER.id, {GUIDANCE_BLOCK: {GUIDANCE_ACTION: advice}})
    note = sb.wait_until(lambda: next(
        (m for m in sb.thread(APPROVALS, card.ts) if "gave the agent guidance" in m.text), None))
    assert advice in str(note.blocks) and "asked the agent" not in str(note.blocks)
    answer = sb.wait_until(lambda: next(
        (m for m in sb.thread(APPROVALS, card.ts) if "agent answered" in m.text), None))
    assert "follow your guidance" in str(answer.blocks) and advice in str(answer.blocks)
    assert advice in wait_log(demo, "took a reviewer's guidance")


def test_the_demo_shows_a_policy_suggestion_from_its_decision_record(demo: Demo) -> None:
    assert demo.sandbox is not None and demo.ledger is not None
    [post] = demo.sandbox.messages(POLICY)
    shown = post.text + str(post.blocks)
    assert "resend_invoice with amount ≤ 48: 24 approved, 0 edited, 0 rejected" in shown
    assert "+      when: {amount: {lte: 48}}" in shown and "+      decide: allow" in shown
    # The evidence is the ledger's: 24 reviewed requests, each approved by a person.
    seeded = [t for t in demo.ledger.list_tickets(limit=500) if t.action == "resend_invoice"]
    assert len(seeded) == 24 and all(t.status == TicketStatus.APPROVED for t in seeded)
    assert {d.reviewer for t in seeded for d in demo.ledger.decisions(t.id)} == {
        REVIEWER.id, "U0BOB"}


def test_the_two_step_plan_runs_in_order_once_approved(demo: Demo) -> None:
    from bot.demo.plan import STEPS

    sb, ledger = demo.sandbox, demo.ledger
    assert sb is not None and ledger is not None
    wait_log(demo, "two-step plan is waiting")
    # The plan's card, not the small-refunds batch card (it lists a cus_dina refund too).
    card = sb.wait_until(lambda: next((m for m in sb.messages(PAYMENTS)
                                       if "pause_subscription" in str(m.blocks)), None))
    assert sb.click(REVIEWER.id, action_id=ACTION_APPROVE, channel=PAYMENTS,
                    message_ts=card.ts).ok
    wait_log(demo, "plan step `issue_refund` ran")
    texts = log_texts(demo)
    first = next(i for i, t in enumerate(texts) if "plan step `pause_subscription`" in t)
    assert first < next(i for i, t in enumerate(texts) if "plan step `issue_refund`" in t)
    assert demo.plan is not None and demo.plan.plan_id is not None
    progress = demo.client.plan(demo.plan.plan_id) if demo.client else None
    assert progress is not None and progress.ended == "done"
    assert [s.action for s in progress.steps] == [s["action"] for s in STEPS]
    sb.wait_until(lambda: any("2 done" in str(m.blocks) for m in sb.messages(PAYMENTS)
                              if m.ts == card.ts))


def test_small_refunds_are_reviewed_together_on_one_batch_card(demo: Demo) -> None:
    from bot.render.batch import ACTION_BATCH_APPROVE

    sb, ledger = demo.sandbox, demo.ledger
    assert sb is not None and ledger is not None

    def small() -> list[Ticket]:
        return [t for t in ledger.list_tickets(limit=100) if t.action == "issue_refund"
                and t.canary is None and t.args["amount"] <= SMALL_REFUND]

    sb.wait_until(lambda: (len(small()) == len(SMALL_REFUNDS)
                  and all(t.card is not None for t in small())) or None, timeout=10)
    cards = {t.card for t in small()}
    assert len(cards) == 1
    (card,) = cards
    assert card is not None
    n = len(SMALL_REFUNDS)
    sb.wait_until(lambda: f"Approve all {n}" in str(sb.message(PAYMENTS, card.ts).blocks)
                  or None, timeout=10)
    assert sb.click(REVIEWER.id, action_id=ACTION_BATCH_APPROVE, channel=PAYMENTS,
                    message_ts=card.ts).ok
    sb.wait_until(lambda: sum("was approved and ran" in t and "issue_refund" in t
                              for t in log_texts(demo)) >= n or None, timeout=10)
    assert all(t.status == TicketStatus.EXECUTED for t in small())
