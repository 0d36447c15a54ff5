"""A plan's card, step edit form and thread notes: valid Block Kit for Slack's own models and
the sandbox's validator, in every state, and they say what the reviewer approves."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.render.plan import (
    ACTION_PLAN_EDIT_STEP,
    ACTION_PLAN_STOP,
    CALLBACK_PLAN_EDIT_STEP,
    render_plan_card,
    render_plan_stopped,
    render_step_edit_modal,
    render_step_result,
    step_of_metadata,
)
from store.models import (
    PLAN_ACTION,
    PlanProgress,
    PlanStep,
    PlanStepState,
    TicketStatus,
    plan_steps,
)
from tests.render.render_checks import APPROVER, NOW, make_ticket
from tests.render.test_slack_models import agree_on_message, agree_on_view

STEPS = {"steps": [
    {"action": "pause_subscription", "args": {"customer": "cus_1", "api_key": "sk_live_x"}},
    {"action": "issue_refund", "args": {"amount": 49, "customer": "cus_1"}},
]}


def plan_ticket(**kw: object) -> object:
    return make_ticket(action=PLAN_ACTION, args=STEPS, **kw)


def progress(*states: PlanStepState, ended: str | None = None) -> PlanProgress:
    steps = tuple(s.model_copy(update={"state": st})
                  for s, st in zip(plan_steps(STEPS), states, strict=True))
    return PlanProgress(ticket_id="t01jabcdefghjkmnpqrstvwxyz0", steps=steps, ended=ended,
                        ended_by=APPROVER if ended == "stopped" else None,
                        deadline=timedelta(hours=1), deadline_at=NOW + timedelta(hours=1))


def buttons(message: dict) -> list[str]:
    found = []
    for block in message["blocks"]:
        found += [e["action_id"] for e in block.get("elements", []) if e.get("type") == "button"]
        if block.get("accessory", {}).get("type") == "button":
            found.append(block["accessory"]["action_id"])
    return found


def test_an_open_plan_lists_its_steps_in_order_with_an_edit_button_each() -> None:
    ticket = plan_ticket()
    card = render_plan_card(ticket, progress=progress(*[PlanStepState.REMAINING] * 2), now=NOW)
    agree_on_message(card)
    text = str(card["blocks"])
    assert text.index("pause_subscription") < text.index("issue_refund")
    assert "sk_live_x" not in text  # secrets are masked as on every card
    assert buttons(card) == [f"{ACTION_PLAN_EDIT_STEP}:0", f"{ACTION_PLAN_EDIT_STEP}:1",
                             "signoff_approve", "signoff_reject", "signoff_request_info"]
    assert "within 1h of approval" in text


@pytest.mark.parametrize(("states", "ended", "stop", "says"), [
    ((PlanStepState.DONE, PlanStepState.RUNNING), None, True, "1 done"),
    ((PlanStepState.DONE, PlanStepState.DONE), "done", False, "Plan complete"),
    ((PlanStepState.FAILED, PlanStepState.STOPPED), "failed", False, "a step failed"),
    ((PlanStepState.DONE, PlanStepState.STOPPED), "stopped", False, "Plan stopped"),
    ((PlanStepState.DONE, PlanStepState.EXPIRED), "expired", False, "Plan expired"),
])
def test_an_approved_plan_shows_progress_and_can_be_stopped_while_it_runs(
        states: tuple[PlanStepState, ...], ended: str | None, stop: bool, says: str) -> None:
    ticket = plan_ticket(status=TicketStatus.APPROVED, approvals=(APPROVER,), decided_at=NOW)
    card = render_plan_card(ticket, progress=progress(*states, ended=ended), now=NOW)
    agree_on_message(card)
    assert says in str(card["blocks"])
    assert (ACTION_PLAN_STOP in buttons(card)) is stop
    assert f"{ACTION_PLAN_EDIT_STEP}:0" not in buttons(card)


def test_the_step_edit_form_edits_one_step_and_names_it() -> None:
    ticket = plan_ticket()
    view = render_step_edit_modal(ticket, 1, origin=("C1", "1.2"))
    agree_on_view(view)
    assert view["callback_id"] == CALLBACK_PLAN_EDIT_STEP
    assert step_of_metadata(view["private_metadata"]) == 1
    assert "Step 2" in str(view["blocks"]) and "arg:amount" in str(view["blocks"])
    assert "arg:api_key" not in str(view["blocks"])  # another step's secret is not in it


def test_thread_notes_are_valid() -> None:
    ticket = plan_ticket(status=TicketStatus.APPROVED)
    done = PlanStep(index=1, action="issue_refund", args={}, state=PlanStepState.DONE,
                    summary="re_1")
    agree_on_message(render_step_result(ticket, done))
    agree_on_message(render_plan_stopped(ticket, APPROVER))


def test_an_on_call_dm_copy_of_a_plan_shows_its_steps_and_plan_buttons() -> None:
    from bot.render import render_escalation_dm

    dm = render_escalation_dm(plan_ticket(), 1, waited=timedelta(minutes=20))
    agree_on_message(dm)
    assert "issue_refund" in str(dm["blocks"]) and "Approve plan" in str(dm["blocks"])
    assert f"{ACTION_PLAN_EDIT_STEP}:1" in buttons(dm)
