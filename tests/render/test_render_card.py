"""The open (interactive) cards: one layout per review type."""

from __future__ import annotations

from datetime import timedelta

from bot.render import (
    ACTION_APPROVE,
    ACTION_EDIT,
    ACTION_GUIDANCE,
    ACTION_REJECT,
    ACTION_REQUEST_INFO,
    ACTION_SHOW_ALL,
    ACTION_TAKE_OVER,
    MASK,
    render_card,
)
from store.models import (
    Decision,
    DecisionKind,
    Evidence,
    ReviewType,
    RiskTier,
    Route,
    TicketStatus,
)
from tests.render.render_checks import (
    APPROVER,
    NOW,
    REQUESTER,
    assert_fits_message,
    block,
    everything,
    has_block,
    make_ticket,
    text_of,
)


def _ids(message: dict) -> list[str]:
    return [b["block_id"] for b in message["blocks"]]


def test_approval_card_shows_everything_a_reviewer_needs() -> None:
    ticket = make_ticket(tier=RiskTier.CRITICAL, summary="Refund €120.50 to cus_123.")
    message = render_card(ticket, now=NOW)
    assert_fits_message(message)
    blocks = message["blocks"]

    assert blocks[0]["type"] == "header"
    assert blocks[0]["text"]["text"] == "🔴 critical · issue_refund"
    assert text_of(block(blocks, "signoff_if_approved")) == (
        "*If you approve:* Refund €120.50 to cus_123."
    )
    fields = block(blocks, "signoff_args")["fields"]
    assert [f["text"] for f in fields] == [
        "*customer_id*\ncus_123", "*amount*\n`120.5`", "*currency*\nEUR",
    ]
    assert "charged twice for order 1042" in text_of(block(blocks, "signoff_reason"))
    evidence = text_of(block(blocks, "signoff_evidence"))
    assert "<https://dashboard.example/ch_1?a=1&amp;b=2|Stripe charge ch_1>" in evidence
    assert "two identical charges" in evidence

    facts = text_of(block(blocks, "signoff_facts"))
    assert f"On behalf of <@{REQUESTER}>" in facts
    assert "Agent `billing-bot` · run `run-42`" in facts
    assert "Confidence *82%*" in facts
    assert "rule `refunds.over_100`" in facts and "policy `2025-03-01`" in facts
    deadline = int((NOW + timedelta(hours=4)).timestamp())
    assert f"<!date^{deadline}^{{date_short_pretty}} at {{time}}|2025-03-04 13:30 UTC>" in facts
    assert ticket.id in text_of(block(blocks, "signoff_ticket"))
    assert blocks[-1]["block_id"] == "signoff_ticket"


def test_approval_buttons_carry_the_ticket_and_its_version_and_critical_approve_asks_to_confirm(
) -> None:
    ticket = make_ticket(tier=RiskTier.CRITICAL)
    actions = block(render_card(ticket)["blocks"], "signoff_actions")["elements"]
    assert [b["action_id"] for b in actions] == [
        ACTION_APPROVE, ACTION_EDIT, ACTION_REJECT, ACTION_REQUEST_INFO,
    ]
    assert [b["text"]["text"] for b in actions] == ["Approve", "Edit", "Reject", "Request info"]
    assert {b["value"] for b in actions} == {f"{ticket.id}@{ticket.version}"}
    assert actions[0]["style"] == "primary" and actions[2]["style"] == "danger"
    assert "issue_refund" in actions[0]["confirm"]["text"]["text"]

    lower = block(render_card(make_ticket(tier=RiskTier.HIGH))["blocks"], "signoff_actions")
    assert "confirm" not in lower["elements"][0]


def test_without_summary_the_card_says_the_action_runs_with_these_arguments() -> None:
    text = text_of(block(render_card(make_ticket())["blocks"], "signoff_if_approved"))
    assert text == "*If you approve:* `issue_refund` runs with these arguments."


def test_block_ids_are_unique_and_stable() -> None:
    first, second = render_card(make_ticket()), render_card(make_ticket())
    assert _ids(first) == _ids(second)
    assert len(set(_ids(first))) == len(_ids(first))


def test_progress_for_two_approvals() -> None:
    ticket = make_ticket(route=Route(channel="C1", approvals_required=2), approvals=(APPROVER,))
    message = render_card(ticket)
    assert text_of(block(message["blocks"], "signoff_progress")) == (
        f"*1 of 2 approvals*: <@{APPROVER}>"
    )
    assert not has_block(render_card(make_ticket())["blocks"], "signoff_progress")


def test_more_than_ten_arguments_fold_into_one_line_with_show_all() -> None:
    args = {f"key_{i:02}": i for i in range(25)}
    message = render_card(make_ticket(args=args))
    assert_fits_message(message)
    assert len(block(message["blocks"], "signoff_args")["fields"]) == 10
    more = block(message["blocks"], "signoff_args_more")
    assert text_of(more).startswith("*+15 more:* key_10, key_11")
    assert more["accessory"]["action_id"] == ACTION_SHOW_ALL
    assert more["accessory"]["value"] == make_ticket().id


def test_target_like_arguments_come_first() -> None:
    args = {"amount": 5, "memo": "x", "customer_id": "cus_1"}
    fields = block(render_card(make_ticket(args=args))["blocks"], "signoff_args")["fields"]
    assert fields[0]["text"].startswith("*customer_id*")


def test_long_values_are_shortened_with_show_all() -> None:
    message = render_card(make_ticket(args={"note": "x" * 10_000}))
    assert_fits_message(message)
    note = block(message["blocks"], "signoff_args")["fields"][0]["text"]
    assert note.endswith("…") and len(note) < 400
    assert block(message["blocks"], "signoff_args_more")["accessory"]["action_id"] == (
        ACTION_SHOW_ALL
    )
    short = render_card(make_ticket())
    assert not has_block(short["blocks"], "signoff_args_more")


def test_user_text_is_escaped_and_cannot_ping() -> None:
    hostile = "<!channel> <@U0ATTACKER> @here & <https://evil.example|click>"
    ticket = make_ticket(
        args={"note": hostile}, summary=hostile, reason=hostile,
        evidence=(Evidence(title=hostile, url="javascript:alert(1)", detail=hostile),),
    )
    message = render_card(ticket)
    assert_fits_message(message)
    text = everything(message)
    assert "<!channel>" not in text and "<@U0ATTACKER>" not in text
    assert "&lt;!channel&gt;" in text
    assert "@here" not in text  # a word joiner keeps Slack from reading it as a mention
    assert "javascript:" not in text


def test_secrets_are_masked_on_the_card_and_in_the_fallback() -> None:
    args = {"customer_id": "cus_1", "api_key": "sk_live_SECRET1", "pin": "482913",
            "nested": {"password": "hunter2hunter2"}}
    ticket = make_ticket(args=args, summary="Use sk_live_SECRET1 to refund",
                         reason="482913 is the pin")
    message = render_card(ticket, masked=frozenset({"pin"}))
    text = everything(message)
    for secret in ("sk_live_SECRET1", "482913", "hunter2hunter2"):
        assert secret not in text
    fields = [f["text"] for f in block(message["blocks"], "signoff_args")["fields"]]
    assert f"*api_key*\n{MASK}" in fields and f"*pin*\n{MASK}" in fields
    assert MASK in message["text"]


def test_edit_review_shows_the_content_with_edit_as_main_action() -> None:
    args = {"to": "ana@example.com", "subject": "Your refund",
            "body": "Hi Ana,\n\nWe refunded <b>€120</b>.\nBest"}
    ticket = make_ticket(review_type=ReviewType.EDIT, action="send_email", args=args)
    message = render_card(ticket)
    assert_fits_message(message)
    content = text_of(block(message["blocks"], "signoff_content"))
    assert "*To:* ana@example.com" in content
    assert "*Subject:* Your refund" in content
    assert "> Hi Ana,\n> \n> We refunded &lt;b&gt;€120&lt;/b&gt;.\n> Best" in content
    actions = block(message["blocks"], "signoff_actions")["elements"]
    assert [(b["action_id"], b["text"]["text"], b.get("style")) for b in actions] == [
        (ACTION_EDIT, "Edit", "primary"),
        (ACTION_APPROVE, "Approve as is", None),
        (ACTION_REJECT, "Reject", "danger"),
    ]
    assert message["text"].startswith("Content to review")


def test_edit_review_with_a_huge_body_offers_show_all() -> None:
    args = {"to": "a@example.com", "body": "lorem ipsum " * 2000}
    message = render_card(make_ticket(review_type=ReviewType.EDIT, args=args))
    assert_fits_message(message)
    assert block(message["blocks"], "signoff_args_more")["accessory"]["action_id"] == (
        ACTION_SHOW_ALL
    )


def test_escalation_review_says_why_what_was_tried_and_what_it_needs() -> None:
    ticket = make_ticket(
        review_type=ReviewType.ESCALATION, action="resolve_dispute",
        reason="Two policies conflict for this customer.",
        summary="A decision on whether to honour the old price.", confidence=0.35,
        evidence=(Evidence(title="Tried the pricing API", detail="returned two prices"),),
    )
    message = render_card(ticket)
    assert_fits_message(message)
    blocks = message["blocks"]
    assert "*Why it is unsure:* Two policies conflict" in text_of(block(blocks, "signoff_reason"))
    assert "*What it tried*" in text_of(block(blocks, "signoff_evidence"))
    assert "Tried the pricing API — returned two prices" in text_of(
        block(blocks, "signoff_evidence"))
    assert "honour the old price" in text_of(block(blocks, "signoff_needs"))
    assert "Confidence *35%*" in text_of(block(blocks, "signoff_facts"))
    actions = block(blocks, "signoff_actions")["elements"]
    assert [(b["action_id"], b["text"]["text"], b.get("style")) for b in actions] == [
        (ACTION_TAKE_OVER, "Take over", "primary"),
        (ACTION_GUIDANCE, "Give guidance", None),
        (ACTION_REJECT, "Reject", "danger"),
    ]


def test_needs_info_shows_the_question_and_keeps_the_buttons() -> None:
    ticket = make_ticket(status=TicketStatus.NEEDS_INFO)
    asked = Decision(id=1, ticket_id=ticket.id, reviewer=APPROVER, kind=DecisionKind.REQUEST_INFO,
                     reason="Which order is this for?", args=None, args_hash=None, at=NOW,
                     policy_version="p")
    message = render_card(ticket, decisions=[asked])
    assert_fits_message(message)
    question = text_of(block(message["blocks"], "signoff_question"))
    assert f"<@{APPROVER}> *asked the agent:* Which order is this for?" in question
    assert len(block(message["blocks"], "signoff_actions")["elements"]) == 5  # + similar


def test_deadline_passed_is_flagged_when_now_is_given() -> None:
    ticket = make_ticket(expires_at=NOW - timedelta(minutes=1))
    facts = text_of(block(render_card(ticket, now=NOW)["blocks"], "signoff_facts"))
    assert "deadline passed" in facts


def test_pending_card_with_edits_from_a_first_approver_shows_the_diff() -> None:
    ticket = make_ticket(args={"amount": 120}, final_args={"amount": 100},
                         route=Route(channel="C1", approvals_required=2), approvals=(APPROVER,))
    message = render_card(ticket)
    assert "*amount*: `120` → `100`" in text_of(block(message["blocks"], "signoff_diff"))
    assert "edited arguments" in text_of(block(message["blocks"], "signoff_if_approved"))


def test_non_user_requester_is_shown_as_text() -> None:
    facts = text_of(block(render_card(make_ticket(requested_by="ana@example.com"))["blocks"],
                          "signoff_facts"))
    assert "On behalf of ana@example.com" in facts
