"""11. Cards per request with batch review: a realistic mix of requests from two agents,
reviewed with the same policy with and without ``batch:`` (the baseline, in the same run).

Traffic comes in agent runs, as agents work through queues: each run is one agent handling
1-15 customer cases in a row, each case one request drawn from that agent's mix (small
refunds, customer emails, CRM updates, large two-person refunds, unsure merges that ask for
an escalation review). Runs are separated by more than the batch window, so each run's
similar requests can share a card and the next run's start new ones. Cards are the
top-level messages posted in the review channels; requests are the tickets that needed a
human. The agent-side client posts the cards (as an embedded agent does), into the sandbox.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.env import CHANNEL, ONCALL, PG_SKIP_NOTE, REQUESTER, REVIEWER, SECRET, Bench
from benchmarks.env import workspace as bench_workspace
from benchmarks.report import Row, ScenarioResult, Summary
from bot.agent.client import ApprovalClient
from bot.sandbox import SlackSandbox
from bot.settings import load_settings
from store.models import TicketStatus

NAME = "batch_cards"
TITLE = "Cards per request: batch review vs one card per request (realistic mix)"
WINDOW_S = 3
"""The batch window of the benchmark's policy (seconds, so runs can be apart by more)."""
RUNS = {"tiny": 3, "full": 8}
TRIALS = {"tiny": 2, "full": 8}

# (action, weight, args maker name) per agent: what each agent asks for, how often.
MIXES: dict[str, tuple[tuple[str, int], ...]] = {
    "refund-bot": (("small_refund", 60), ("large_refund", 10), ("email", 20),
                   ("merge", 10)),
    "crm-bot": (("crm_update", 60), ("email", 40)),
}


def config_yaml(batch: bool) -> str:
    extra = f"      batch: {{max: 50, window: {WINDOW_S}s}}\n" if batch else ""
    return f"""\
version: 1
policy_version: "bench-batch-{'on' if batch else 'off'}"
sweep_every: 15s
reviewers:
  bench: [{REVIEWER}]
  pair: [{REVIEWER}, {ONCALL}]
routes:
  default:
    channel: {CHANNEL}
    approvers: bench
    chain: bench
chains:
  bench:
    levels:
      - notify: [{ONCALL}]
        after: 1h
    expire_after: 4h
policy:
  default: require_approval
  rules:
    - action: issue_refund
      when: {{amount: {{gt: 1000}}}}
      decide: require_approval
      tier: critical
      approvers: pair
      approvals: 2
    - confidence_below: 0.5
      decide: require_approval
      review: escalation
    - action: issue_refund
      decide: require_approval
      tier: high
{extra}    - action: send_email
      decide: require_approval
      tier: medium
{extra}    - action: update_crm
      decide: require_approval
      tier: low
{extra}    - action: merge_accounts
      decide: require_approval
      tier: medium
"""


@dataclass(frozen=True)
class Case:
    agent: str
    action: str
    args: dict[str, object]
    confidence: float | None = None


def traffic(seed: int, runs: int) -> list[list[Case]]:
    """The same runs for both policies: agent runs of 1-15 cases each."""
    rng = random.Random(seed)
    out = []
    for _ in range(runs):
        agent = rng.choice(sorted(MIXES))
        kinds, weights = zip(*MIXES[agent], strict=True)
        cases = [_case(rng, agent, kind) for kind in
                 rng.choices(kinds, weights, k=rng.randint(1, 15))]
        out.append(cases)
    return out


def _case(rng: random.Random, agent: str, kind: str) -> Case:
    customer = f"cus_{rng.randrange(10_000):04d}"
    if kind == "small_refund":
        return Case(agent, "issue_refund", {"amount": rng.randint(5, 120), "customer": customer})
    if kind == "large_refund":
        return Case(agent, "issue_refund", {"amount": rng.randint(1_500, 9_000),
                                            "customer": customer})
    if kind == "email":
        domain = rng.choice(("example.com", "mail.example.org", "corp.example.net"))
        return Case(agent, "send_email", {"to": f"{customer}@{domain}",
                                          "template": "delay-apology"})
    if kind == "crm_update":
        return Case(agent, "update_crm", {"customer": customer,
                                          "tier": rng.choice(("gold", "silver"))})
    return Case(agent, "merge_accounts", {"keep": customer, "merge": customer + "b"},
                confidence=0.3)


def run(bench: Bench) -> ScenarioResult:
    result = ScenarioResult(NAME, TITLE)
    size = bench.size.name
    for backend in bench.backends():
        result.rows.append(_backend(bench, backend, RUNS.get(size, 3), TRIALS.get(size, 2)))
    if bench.postgres_url is None:
        result.notes.append(PG_SKIP_NOTE)
    result.notes.append(
        f"{RUNS.get(size, 3)} agent runs of 1-15 requests per trial, the same seeded traffic "
        f"for both policies; batch window {WINDOW_S}s, runs {WINDOW_S + 0.2:g}s apart; "
        "never batched: critical two-person refunds and escalation reviews")
    return result


def _backend(bench: Bench, backend: str, runs: int, trials: int) -> Row:
    ours: list[float] = []
    theirs: list[float] = []
    totals = {True: [0, 0], False: [0, 0]}
    for trial in range(trials):
        plan = traffic(seed=1000 + trial, runs=runs)
        for batch in (False, True):
            cards, requests = _trial(bench, backend, plan, batch)
            totals[batch][0] += cards
            totals[batch][1] += requests
            (ours if batch else theirs).append(cards / requests)
    on, off = totals[True], totals[False]
    return Row.of(f"{backend}, {trials} trials", "cards/request", Summary.of(ours),
                  baseline=Summary.of(theirs), target="fewer cards than one per request",
                  check=lambda s, b: b is not None and s.median < b.median,
                  note=f"with batch: {on[0]} cards for {on[1]} requests; "
                       f"without: {off[0]} for {off[1]}")


def _trial(bench: Bench, backend: str, plan: Sequence[Sequence[Case]],
           batch: bool) -> tuple[int, int]:
    config = bench.workdir / f"batch-{'on' if batch else 'off'}.yml"
    if not config.exists():
        config.write_text(config_yaml(batch))
    with bench.database(backend) as url, \
            SlackSandbox(bench_workspace(), signing_secret=SECRET) as sandbox:
        client = _client(url, sandbox, config)
        try:
            requests = _send(client, plan, pause=batch)
        finally:
            client.close()
        cards = [c for c in sandbox.calls("chat.postMessage")
                 if c.ok and c.args.get("channel") == CHANNEL and not c.args.get("thread_ts")]
    return len(cards), requests


def _client(url: str, sandbox: SlackSandbox, config: Path) -> ApprovalClient:
    settings = load_settings(database_url=url, slack_bot_token=sandbox.bot_token,
                             slack_api_url=sandbox.api_url, config_path=config)
    return ApprovalClient.from_settings(settings)


def _send(client: ApprovalClient, plan: Sequence[Sequence[Case]], *, pause: bool) -> int:
    """Make the requests; ``pause``: let the batch window close between runs (without
    batching nothing depends on the time between them)."""
    reviewed = 0
    for number, cases in enumerate(plan):
        if number and pause:
            time.sleep(WINDOW_S + 0.2)
        for case in cases:
            ticket = client.request(case.action, dict(case.args), reason="support case",
                                    requested_by=REQUESTER, agent=case.agent,
                                    confidence=case.confidence)
            reviewed += ticket.status == TicketStatus.PENDING
    return reviewed
