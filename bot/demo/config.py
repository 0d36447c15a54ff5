"""The demo's cast and its ``signoff.yml``: who the people are, where cards go, how fast
unanswered requests climb the on-call chain."""

from __future__ import annotations

from dataclasses import dataclass

from bot.sandbox import Channel, User, Workspace
from escalation.config import SignoffConfig, parse_config

APPROVALS = "C0APPROVALS"
PAYMENTS = "C0PAYMENTS"
AGENT_LOG = "C0AGENTLOG"
POLICY = "C0POLICY"
SECURITY = "C0SECURITY"
SMALL_REFUND = 50
"""Refunds up to this amount are reviewed together, on one batch card."""


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    real_name: str
    role: str


REVIEWER = Person("U0ALICE", "alice", "Alice Park", "reviewer (payments lead)")
SECOND_REVIEWER = Person("U0BOB", "bob", "Bob Nakamura", "second reviewer")
REQUESTER = Person("U0RITA", "rita", "Rita Gomez", "requester (the agent acts for her)")
ON_CALL = Person("U0OSCAR", "oscar", "Oscar Lee", "on-call engineer")
OUTSIDER = Person("U0OLIVE", "olive", "Olive Stone", "outsider (not a reviewer)")
PEOPLE = (REVIEWER, SECOND_REVIEWER, REQUESTER, ON_CALL, OUTSIDER)
OPS_GROUP = "S0OPSREVIEW"


@dataclass(frozen=True)
class Timing:
    """The on-call chain's pace in seconds; ``FAST`` is for tests and impatient visitors.

    The last level waits as long as the first before the request expires, so the expiry is
    also capped by ``first + second + first``.
    """

    sweep: int
    first: int
    second: int
    remind: int
    expire: int

    @property
    def second_at(self) -> int:
        return self.first + self.second

    @property
    def expires_in(self) -> int:
        return min(self.expire, self.second_at + self.first)


NORMAL = Timing(sweep=5, first=30, second=120, remind=60, expire=180)
FAST = Timing(sweep=1, first=3, second=30, remind=10, expire=36)


def timing(fast: bool) -> Timing:
    return FAST if fast else NORMAL


def demo_workspace() -> Workspace:
    return Workspace(
        team_domain="signoff-demo",
        bot_name="signoff",
        users=[User(p.id, p.name, p.real_name, f"{p.name}@example.com") for p in PEOPLE],
        usergroups={OPS_GROUP: [REVIEWER.id, SECOND_REVIEWER.id, ON_CALL.id]},
        channels=[Channel(APPROVALS, "approvals"), Channel(PAYMENTS, "payments"),
                  Channel(AGENT_LOG, "agent-log"), Channel(POLICY, "policy"),
                  Channel(SECURITY, "security")],
    )


def demo_config_text(timing: Timing = NORMAL) -> str:
    t = timing
    return f"""\
version: 1
policy_version: "demo-1"
sweep_every: {t.sweep}s
reviewers:
  payments: [{REVIEWER.id}, {SECOND_REVIEWER.id}, {REQUESTER.id}, {ON_CALL.id}]
  ops: [{OPS_GROUP}]
routes:
  default:
    channel: {APPROVALS}
    approvers: ops
    chain: standard
  payments:
    channel: {PAYMENTS}
    approvers: payments
    chain: payments-oncall
chains:
  standard:
    levels:
      - notify: [{ON_CALL.id}]
        after: {t.first}s
      - notify: [{REVIEWER.id}]
        after: {t.second}s
    remind_every: {t.remind}s
    expire_after: {t.expire}s
  payments-oncall:
    levels:
      - notify: [{ON_CALL.id}]
        after: {t.first}s
      - notify: [{REVIEWER.id}]
        after: {t.second}s
    remind_every: {t.remind}s
    expire_after: {t.expire}s
policy:
  default: require_approval
  rules:
    - action: "search_*"
      decide: allow
    - action: "get_*"
      decide: allow
    - name: mcp-reads
      action: "notes.*"
      when: {{annotations.readOnlyHint: {{eq: true}}}}
      decide: allow
    - name: mcp-writes
      action: "notes.*"
      when: {{annotations.destructiveHint: {{eq: true}}}}
      decide: require_approval
      review: edit
    - action: issue_refund
      when: {{amount: {{gt: 1000}}}}
      decide: require_approval
      tier: critical
      route: payments
      approvals: 2
      break_glass: allowed
    - name: small-refunds
      action: issue_refund
      when: {{amount: {{lte: {SMALL_REFUND}}}}}
      decide: require_approval
      tier: high
      route: payments
      batch: {{max: 20, window: 2m}}
    - action: issue_refund
      decide: require_approval
      tier: high
      route: payments
    - action: send_email
      decide: require_approval
      review: edit
    - action: resend_invoice
      decide: require_approval
      tier: low
    - action: drop_database
      decide: deny
      reason: never from an agent
    - confidence_below: 0.5
      decide: require_approval
      review: escalation
suggest:
  min_samples: 20
break_glass:
  security_channel: {SECURITY}
  witness_within: {t.second}s
canaries:
  payments:
    rate: 1/2
    requests:
      - name: closed-account-refund
        action: issue_refund
        args: {{amount: 640, currency: EUR, customer: cus_zed, notify_customer: false,
                note: "goodwill refund, customer unreachable"}}
        reason: "Goodwill refund requested in a support ticket."
        summary: Refund EUR 640 to cus_zed
        agent: support-agent
        confidence: 0.91
        requested_by: {REQUESTER.id}
        lesson: "cus_zed closed their account last year and the note says the customer is
          unreachable: a refund nobody can receive, with no order behind it, must be rejected."
"""


def demo_config(fast: bool = False) -> SignoffConfig:
    return parse_config(demo_config_text(timing(fast)), "demo signoff.yml")
