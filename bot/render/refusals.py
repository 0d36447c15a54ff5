"""Why a reviewer's click or form did not count, in the words they read (shown privately
through :func:`bot.render.render_refusal`)."""

from __future__ import annotations

from bot.render.text import mention_any
from store.models import Route

NO_SUCH_REQUEST = "This request no longer exists."
OWN_REQUEST = ("You can't approve a request made on your behalf: another reviewer has to "
               "decide it.")
ALREADY_APPROVED_BY_YOU = ("You already approved this request; it needs another approver, a "
                           "different person.")
FORM_REFUSED_LATE = ("You can't make this decision, so this form was closed: signoff has told "
                     "you why in the conversation you clicked in.")
EXPIRED_CLICK = ("This request expired: nobody decided in time, so nothing was executed. Your "
                 "click changed nothing.")


def not_an_approver(route: Route) -> str:
    """Only the route's approvers (or the on-call people its chain DM'd) may decide."""
    who = ", ".join(mention_any(p) for p in route.approvers) or "nobody"
    return (f"Only the approvers of route *{route.name}* ({who}) or the on-call engineers it "
            "was escalated to can decide this request.")


def rate_limited(wait: float) -> str:
    """Slack is rate-limiting the lookup of who may decide (a user group)."""
    return (f"Slack is rate-limiting signoff right now, so who may decide could not be "
            f"checked and nothing was recorded. Try again in {wait:.0f} s.")


def edit_denied(policy_version: str, rule: str, reason: str | None) -> str:
    """Policy would deny the edited arguments outright."""
    return (f"Policy {policy_version} would deny this edit "
            f"({rule}{': ' + reason if reason else ''}).")

# A modal submitted without its text: shown under the field.
MISSING_REASON = "Say why, so the agent can plan again."
MISSING_QUESTION = "Ask the agent something."
MISSING_GUIDANCE = "Write the guidance for the agent."
