"""Every surface fits Block Kit whatever the ticket holds (property-based)."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.render import (
    MASK,
    initial_state_values,
    parse_edit_submission,
    render_card,
    render_edit_modal,
    render_escalation_dm,
    render_escalation_note,
    render_execution_result,
    render_expired_notice,
    render_guidance_modal,
    render_home,
    render_info_answer,
    render_info_request,
    render_refusal,
    render_reject_modal,
    render_reminder,
    render_request_info_modal,
    render_show_all_modal,
)
from store.models import (
    Evidence,
    ReviewType,
    RiskTier,
    Route,
    Ticket,
    TicketStatus,
)
from tests.render.render_checks import (
    APPROVER,
    NOW,
    Args,
    assert_fits_message,
    assert_fits_view,
    everything,
    make_ticket,
    outcome,
)

NASTY = ["<!channel>", "<!here>", "<@U0ATTACKER>", "&amp;", "<", ">", "&", "*", "_", "~", "`",
         "```", "|", "\n", "@channel", "🔴", "\u202e", "\x00", "é", "\U0001d518", "<https://x.y|z>"]
SECRET = "sk_live_TOPSECRET_999"

pieces = st.one_of(st.sampled_from(NASTY), st.text(max_size=8))
huge = st.builds(lambda parts, n: "".join(parts) * n, st.lists(pieces, min_size=1, max_size=4),
                 st.integers(min_value=1, max_value=4000))
texts = st.one_of(st.text(max_size=40), huge)
keys = st.one_of(st.text(max_size=30), st.sampled_from(["password", "api_key", "token", "to",
                                                       "body", "subject"]), huge)
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), texts)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=12), inner, max_size=4)),
    max_leaves=12,
)
arg_dicts = st.dictionaries(keys, json_values, max_size=30)


@st.composite
def tickets(draw: st.DrawFn) -> Ticket:
    args = draw(arg_dicts)
    edited = draw(st.booleans())
    final = {**args, **draw(arg_dicts)} if edited else args
    status = draw(st.sampled_from(list(TicketStatus)))
    return make_ticket(
        id=draw(st.text(min_size=1, max_size=60)),
        action=draw(st.text(min_size=1, max_size=200)),
        args=args,
        final_args=final,
        review_type=draw(st.sampled_from(list(ReviewType))),
        tier=draw(st.sampled_from(list(RiskTier))),
        status=status,
        summary=draw(st.none() | texts),
        reason=draw(texts),
        evidence=tuple(draw(st.lists(st.builds(
            Evidence, title=texts, url=st.none() | texts | st.just("https://e.example/?a=<b>&c"),
            detail=st.none() | texts), max_size=30))),
        confidence=draw(st.none() | st.floats(min_value=0, max_value=1)),
        requested_by=draw(st.sampled_from(["U0REQUESTER", "<!channel>", "x" * 500])),
        agent=draw(st.none() | texts),
        run_id=draw(st.none() | texts),
        policy_rule=draw(st.none() | texts),
        policy_version=draw(texts),
        route=Route(channel="C1", approvals_required=draw(st.integers(1, 10)),
                    approvers=tuple(draw(st.lists(st.sampled_from([APPROVER, "S0GROUP", "bob"]),
                                                  max_size=300)))),
        approvals=tuple(draw(st.lists(st.text(max_size=20), max_size=50))),
        decided_by=draw(st.none() | texts),
        decided_at=None if status.is_open else NOW,
        outcome=draw(st.none() | st.builds(outcome, st.booleans(), texts)),
    )


FAST = settings(max_examples=int(os.environ.get("SIGNOFF_RENDER_EXAMPLES", "60")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _masked_everywhere(payload: Any) -> None:
    assert SECRET not in everything(payload)


@FAST
@given(tickets(), st.lists(st.sampled_from(NASTY) | texts, max_size=3))
def test_messages_fit_whatever_the_ticket(ticket: Ticket, words: list[str]) -> None:
    for message in (
        render_card(ticket, now=NOW),
        render_reminder(ticket, timedelta(seconds=12345)),
        render_escalation_note(ticket, 3, [APPROVER, *words]),
        render_escalation_dm(ticket, 2, waited=timedelta(hours=3)),
        render_execution_result(ticket),
        render_info_request(ticket, words[0] if words else APPROVER, " ".join(words)),
        render_info_answer(ticket, "".join(words)),
        render_expired_notice(ticket),
        render_refusal("".join(words)),
    ):
        assert_fits_message(message)


@FAST
@given(tickets())
def test_modals_fit_whatever_the_ticket(ticket: Ticket) -> None:
    for view in (
        render_reject_modal(ticket),
        render_request_info_modal(ticket),
        render_guidance_modal(ticket),
        render_show_all_modal(ticket),
        render_edit_modal(ticket, None),
    ):
        assert_fits_view(view)


@FAST
@given(st.lists(tickets(), max_size=4))
def test_home_fits(queue: list[Ticket]) -> None:
    view = render_home(APPROVER, [(t, "https://acme.slack.com/archives/C1/p1") for t in queue],
                       NOW)
    assert_fits_view(view)


@FAST
@given(arg_dicts)
def test_edit_modal_round_trips_any_arguments(args: dict[str, Any]) -> None:
    ticket = make_ticket(args=args)
    view = render_edit_modal(ticket, None)
    assert_fits_view(view)
    result = parse_edit_submission(ticket, None, initial_state_values(view))
    assert result.ok and result.args == ticket.final_args


@FAST
@given(arg_dicts, st.sampled_from(["password", "api_key", "client_secret", "authToken", "ssn"]))
def test_secrets_are_masked_on_every_surface(args: dict[str, Any], key: str) -> None:
    args = {**args, key: SECRET, "nested": {"deeper": [{key: SECRET}]}}
    ticket = make_ticket(args=args, final_args={**args, key: SECRET + "2"},
                         summary=f"will use {SECRET}")
    for status in (TicketStatus.PENDING, TicketStatus.APPROVED):
        t = ticket.model_copy(update={"status": status})
        _masked_everywhere(render_card(t))
    _masked_everywhere(render_show_all_modal(ticket))
    _masked_everywhere(render_edit_modal(ticket, None))
    _masked_everywhere(render_escalation_dm(ticket, 1))
    # The notification text of the unedited request quotes its summary, secret masked (an
    # edited one leaves the agent's summary out: it described other arguments).
    assert MASK in render_card(make_ticket(args=args, summary=f"will use {SECRET}"))["text"]


def test_two_hundred_huge_arguments() -> None:
    args = {f"{'k' * 2500}{i}": "<!channel>" * 3000 for i in range(200)}
    ticket = make_ticket(args=args, summary="s" * 40_000, reason="r" * 40_000,
                         evidence=tuple(Evidence(title="t" * 5000, url="https://x.y/" + "a" * 9000,
                                                 detail="d" * 9000) for _ in range(200)))
    for review in ReviewType:
        t = ticket.model_copy(update={"review_type": review})
        assert_fits_message(render_card(t))
    assert_fits_view(render_show_all_modal(ticket))
    edit = render_edit_modal(ticket, None)
    assert_fits_view(edit)
    assert parse_edit_submission(ticket, None, initial_state_values(edit)).args == args


def test_deeply_nested_arguments() -> None:
    value: Any = "bottom"
    for _ in range(300):
        value = {"level": [value]}
    ticket = make_ticket(args={"tree": value})
    assert_fits_message(render_card(ticket))
    assert_fits_view(render_show_all_modal(ticket))
    edit = render_edit_modal(ticket, None)
    assert_fits_view(edit)
    assert parse_edit_submission(ticket, None, initial_state_values(edit)).args == ticket.args


@FAST
@given(st.dictionaries(st.sampled_from(sorted(Args.model_fields)), json_values | st.sampled_from(
    ["2025-03-04", "2025-03-04T09:30:00Z", "1969-12-31T23:59:59+00:00", "red", "fast", "12.5",
     10**30, -5, 0, 1e300, float("nan"), True]), max_size=14))
def test_edit_modal_with_a_model_round_trips_whatever_the_current_values(
    args: dict[str, Any],
) -> None:
    ticket = make_ticket(args=args)
    view = render_edit_modal(ticket, Args)
    assert_fits_view(view)
    result = parse_edit_submission(ticket, Args, initial_state_values(view))
    assert result.ok and result.args == ticket.final_args
