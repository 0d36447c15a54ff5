"""Stable identifiers the interactive surfaces share with the handlers that read them.

Changing one of these breaks buttons on cards already posted, so treat them as a public API.
"""

from __future__ import annotations

from typing import Final, NamedTuple

# Buttons on cards (every button's value is ``button_value``: the ticket id and the version
# of the ticket the card shows).
ACTION_APPROVE: Final = "signoff_approve"
ACTION_EDIT: Final = "signoff_edit"
ACTION_REJECT: Final = "signoff_reject"
ACTION_REQUEST_INFO: Final = "signoff_request_info"
ACTION_TAKE_OVER: Final = "signoff_take_over"
ACTION_GUIDANCE: Final = "signoff_guidance"
ACTION_SHOW_ALL: Final = "signoff_show_all"
ACTION_BREAK_GLASS: Final = "signoff_break_glass"
#: On the security channel's break-glass post and unwitnessed DMs; its value is the ticket id
#: alone (a ticket is broken once, so there is nothing older to confuse it with).
ACTION_WITNESS: Final = "signoff_witness"

# Blocks on cards.
BLOCK_HEADER: Final = "signoff_header"
BLOCK_INTRO: Final = "signoff_intro"
BLOCK_IF_APPROVED: Final = "signoff_if_approved"
BLOCK_CONTENT: Final = "signoff_content"
BLOCK_ARGS: Final = "signoff_args"
BLOCK_ARGS_MORE: Final = "signoff_args_more"
BLOCK_REASON: Final = "signoff_reason"
BLOCK_EVIDENCE: Final = "signoff_evidence"
BLOCK_NEEDS: Final = "signoff_needs"
BLOCK_FACTS: Final = "signoff_facts"
BLOCK_PROGRESS: Final = "signoff_progress"
BLOCK_QUESTION: Final = "signoff_question"
BLOCK_OUTCOME: Final = "signoff_outcome"
BLOCK_DECISION_REASON: Final = "signoff_decision_reason"
BLOCK_DIFF: Final = "signoff_diff"
BLOCK_RESULT: Final = "signoff_result"
BLOCK_ACTIONS: Final = "signoff_actions"
BLOCK_TICKET: Final = "signoff_ticket"
BLOCK_ONCALL: Final = "signoff_oncall"
BLOCK_NOTE: Final = "signoff_note"

# Modals: callback ids.
CALLBACK_REJECT: Final = "signoff_reject_modal"
CALLBACK_REQUEST_INFO: Final = "signoff_request_info_modal"
CALLBACK_GUIDANCE: Final = "signoff_guidance_modal"
CALLBACK_EDIT: Final = "signoff_edit_modal"
CALLBACK_SHOW_ALL: Final = "signoff_show_all_modal"
CALLBACK_NOTICE: Final = "signoff_notice_modal"
CALLBACK_BREAK_GLASS: Final = "signoff_break_glass_modal"

# Modals: input blocks and their elements.
REASON_BLOCK: Final = "signoff_reason_input"
REASON_ACTION: Final = "signoff_reason_value"
QUESTION_BLOCK: Final = "signoff_question_input"
QUESTION_ACTION: Final = "signoff_question_value"
GUIDANCE_BLOCK: Final = "signoff_guidance_input"
GUIDANCE_ACTION: Final = "signoff_guidance_value"
JUSTIFICATION_BLOCK: Final = "signoff_justification_input"
JUSTIFICATION_ACTION: Final = "signoff_justification_value"
EDIT_FIELD_PREFIX: Final = "arg:"
EDIT_PART_PREFIX: Final = "argpart"
"""Parts 2, 3, … of a value split across several inputs: ``argpart2:`` + the field's key."""
EDIT_REST_BLOCK: Final = "signoff_edit_rest"
EDIT_VALUE_ACTION: Final = "signoff_edit_value"


class ButtonValue(NamedTuple):
    """What a card's button carries: the ticket, and the version of it the card shows."""

    ticket_id: str
    version: int | None


def button_value(ticket_id: str, version: int) -> str:
    """``<ticket id>@<version>``: a click is bound to the version its card showed."""
    return f"{ticket_id}@{version}"


def parse_button_value(value: str) -> ButtonValue:
    """The inverse of ``button_value``; a bare ticket id (older cards) has no version."""
    ticket_id, sep, version = value.partition("@")
    if sep and version.isdigit():
        return ButtonValue(ticket_id, int(version))
    return ButtonValue(ticket_id if not sep else value, None)
