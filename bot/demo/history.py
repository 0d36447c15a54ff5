"""The demo's decision record, and the policy suggestion it supports.

A team that has reviewed a kind of request many times, and always approved it unchanged,
is shown what ``signoff policy suggest`` proposes: the evidence and the diff of
``signoff.yml``, posted in ``#policy`` when the demo starts. The history is real ledger
records (requests made, approved by Alice and Bob about 45 s after they arrived), written
through the ledger's own operations, so the suggestion comes from the same code as the
command's.
"""

from __future__ import annotations

from datetime import timedelta

from bot.demo.config import POLICY, REQUESTER, REVIEWER, SECOND_REVIEWER
from bot.render.blocks import Block, Message, context, header, message, section
from bot.render.text import esc
from bot.render.values import code_chunks
from escalation.config import SignoffConfig
from escalation.policy import Policy, Proposal
from escalation.suggest_report import SuggestReport, suggest_report
from store.ledger import Ledger
from store.models import DecisionKind, NewTicket

#: Reviewed requests in the seeded record (the demo's ``suggest.min_samples`` is 20; the
#: default, 50, is for real teams: a demo that starts in a second cannot write 50 decisions).
SEEDED = 24
ACTION = "resend_invoice"
WINDOW = timedelta(days=30)


def seed_history(ledger: Ledger, config: SignoffConfig) -> None:
    """``SEEDED`` invoice resends, each reviewed and approved unchanged."""
    policy = Policy(config)
    now = ledger.db_now()
    for i in range(SEEDED):
        args = {"invoice": f"inv_{1001 + i}", "amount": 12 + (i * 7) % 37}
        outcome = policy.evaluate(Proposal(action=ACTION, args=args,
                                           requested_by=REQUESTER.id))
        assert outcome.route is not None, "the demo's resend_invoice rule needs review"
        ticket, _ = ledger.create_ticket(NewTicket(
            action=ACTION, args=args, requested_by=REQUESTER.id, agent="support-agent",
            reason="The customer asked for their invoice again.", route=outcome.route,
            tier=outcome.tier, policy_version=outcome.policy_version,
            policy_rule=outcome.rule, expires_at=now + timedelta(hours=1),
        ), at=now - timedelta(seconds=35 + (i * 13) % 21))
        reviewer = REVIEWER if i % 2 else SECOND_REVIEWER
        ledger.record_decision(ticket.id, reviewer=reviewer.id, kind=DecisionKind.APPROVE)


def suggestion(ledger: Ledger, config: SignoffConfig, text: str) -> SuggestReport:
    until = ledger.db_now()
    return suggest_report(ledger, config, text, "signoff.yml", since=until - WINDOW,
                          until=until)


def render_suggestion(report: SuggestReport) -> Message:
    """The ``#policy`` post: each suggestion's evidence, then the diff, never applied."""
    if not report.suggestions:
        text = (f"No policy suggestions from {report.reviewed} reviewed requests in the last "
                "30 days.")
        return message(text, [section("signoff_suggest_none", text)])
    lines = "\n".join(f"• {esc(s.evidence, 500)}" for s in report.suggestions)
    blocks: list[Block] = [
        header("signoff_suggest_header", "📈 Policy suggestion"),
        section("signoff_suggest_lead", "`signoff policy suggest` read the decision record of "
                f"the last 30 days ({report.reviewed} reviewed requests):\n{lines}"),
    ]
    blocks += [section(f"signoff_suggest_diff_{i}", chunk)
               for i, chunk in enumerate(code_chunks(report.diff, 2900)[:20])]
    blocks.append(context("signoff_suggest_note", [
        "Nothing was changed: a person reviews the diff and applies it to signoff.yml. "
        "Rules marked `relax: never`, and every deny, are never proposed for relaxing."]))
    return message(f"Policy suggestion: {report.suggestions[0].evidence}", blocks)


def post_suggestion(ledger: Ledger, config: SignoffConfig, text: str, slack: object) -> None:
    """Post the demo's suggestion in ``#policy`` as the bot."""
    msg = render_suggestion(suggestion(ledger, config, text))
    slack.chat_postMessage(channel=POLICY, text=msg["text"],  # type: ignore[attr-defined]
                           blocks=msg["blocks"])
