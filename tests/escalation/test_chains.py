"""Planning a chain at creation: level times, targets, reminders, loops and the deadline."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from escalation.chains import StepKind, Timeline, plan
from escalation.config import SignoffConfig, load_config, parse_config
from store.errors import ConfigError

EXAMPLE = Path(__file__).parent.parent / "fixtures" / "signoff.example.yml"
T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
M = timedelta(minutes=1)

SCHEDULED = """
version: 1
reviewers:
  sre: [U0SRE]
routes:
  default: {channel: C0APPROVALS, approvers: sre, chain: looped}
chains:
  looped:
    levels:
      - notify: [U0FIRST]
        after: 10m
      - notify: ["schedule:primary", S0MANAGERS]
        after: 20m
    loops: 2
    remind_every: 4m
    remind_max: 5
    expire_after: 6h
  rr:
    levels:
      - notify: [U0A, U0B, U0C]
        after: 10m
        round_robin: true
    expire_after: 1h
  quiet:
    remind_every: 10m
    expire_after: 35m
schedules:
  primary:
    time_zone: UTC
    layers:
      - start: 2026-01-05T00:00:00
        turn: 12h30m
        users: [U0DAY, U0NIGHT]
"""


@pytest.fixture(scope="module")
def config() -> SignoffConfig:
    return parse_config(SCHEDULED)


def minutes(times: list[datetime]) -> list[float]:
    return [(t - T0) / M for t in times]


def test_example_chain_plan() -> None:
    chain = load_config(EXAMPLE).chain("payments-oncall")  # 10m, 20m; remind 5m; expire 1h
    p = plan(chain, created_at=T0, name="payments-oncall")
    assert minutes([lvl.at for lvl in p.levels]) == [10, 30]
    assert [lvl.targets for lvl in p.levels] == [("U0PAYONCALL",), ("U0PAYMGR",)]
    # Exhausted when the next wait (the first level's 10m) ends after the last DM.
    assert p.end_of_chain == T0 + 40 * M
    assert p.expires_at == T0 + 40 * M
    assert p.next_action_at == T0 + 5 * M
    timeline = Timeline(p.snapshot, created_at=T0, expires_at=p.expires_at)
    steps = list(timeline.steps(0, since=T0))
    assert [(s.kind.value, s.level, s.key, (s.due - T0) / M) for s in steps] == [
        ("remind", 0, "remind:1", 5),
        ("notify", 1, "notify", 10),
        ("remind", 1, "remind:1", 15), ("remind", 1, "remind:2", 20),
        ("remind", 1, "remind:3", 25),
        ("notify", 2, "notify", 30),
        ("remind", 2, "remind:1", 35),
        ("expire", 0, "expire", 40),
    ]


def test_hard_deadline_comes_first_and_cuts_levels(config: SignoffConfig) -> None:
    p = plan(config.chain("looped"), created_at=T0, schedules=config.schedules,
             expire_override=timedelta(minutes=45))
    assert p.expires_at == T0 + 45 * M
    assert minutes([lvl.at for lvl in p.levels]) == [10, 30, 40]


def test_loops_repeat_the_levels_and_resolve_schedules_per_pass(config: SignoffConfig) -> None:
    created = datetime(2026, 1, 5, 11, 45, tzinfo=UTC)  # the day turn ends at 12:30
    p = plan(config.chain("looped"), created_at=created, schedules=config.schedules)
    assert [(lvl.loop, lvl.level, (lvl.at - created) / M) for lvl in p.levels] == [
        (0, 1, 10), (0, 2, 30), (1, 1, 40), (1, 2, 60)]
    assert p.levels[1].targets == ("U0DAY", "S0MANAGERS")  # 12:15
    assert p.levels[1].via == {"U0DAY": "schedule:primary"}
    assert p.levels[3].targets == ("U0NIGHT", "S0MANAGERS")  # 12:45
    assert p.end_of_chain == created + 70 * M
    assert p.expires_at == created + 70 * M  # before expire_after (6h)


def test_remind_max_caps_reminders_over_the_whole_life(config: SignoffConfig) -> None:
    p = plan(config.chain("looped"), created_at=T0, schedules=config.schedules)
    timeline = Timeline(p.snapshot, created_at=T0, expires_at=p.expires_at)
    reminders = [s for s in timeline.steps(0, since=T0) if s.kind is StepKind.REMIND]
    # Stage 0 (10m) holds 2, stage 1 (20m) holds 4: the cap of 5 stops in stage 1.
    assert [(s.level, s.number, (s.due - T0) / M) for s in reminders] == [
        (0, 1, 4), (0, 2, 8), (1, 1, 14), (1, 2, 18), (1, 3, 22)]


def test_round_robin_is_kept_in_the_snapshot(config: SignoffConfig) -> None:
    p = plan(config.chain("rr"), created_at=T0)
    assert p.levels[0].round_robin
    assert p.snapshot["levels"][0]["round_robin"] is True


def test_chain_without_levels_only_reminds_then_expires(config: SignoffConfig) -> None:
    p = plan(config.chain("quiet"), created_at=T0)
    assert p.end_of_chain is None and p.expires_at == T0 + 35 * M
    timeline = Timeline(p.snapshot, created_at=T0, expires_at=p.expires_at)
    assert [(s.kind.value, (s.due - T0) / M) for s in timeline.steps(0, since=T0)] == [
        ("remind", 10), ("remind", 20), ("remind", 30), ("expire", 35)]


def test_snapshot_is_plain_json_and_reads_back_the_same(config: SignoffConfig) -> None:
    p = plan(config.chain("looped"), created_at=T0, schedules=config.schedules, name="looped")
    stored = json.loads(json.dumps(p.snapshot))
    again = Timeline(stored, created_at=T0, expires_at=p.expires_at)
    assert again.levels == p.levels
    assert stored["chain"] == "looped" and stored["v"] == 1


def test_due_and_next_step_from_a_stage() -> None:
    chain = load_config(EXAMPLE).chain("payments-oncall")
    p = plan(chain, created_at=T0)
    timeline = Timeline(p.snapshot, created_at=T0, expires_at=p.expires_at)
    stage = timeline.stage_of(0, 1)
    assert stage == 1
    due = timeline.due(stage, since=T0 + 15 * M, at=T0 + 31 * M)
    assert [s.key for s in due] == ["remind:1", "remind:2", "remind:3", "notify"]
    following = timeline.next_step(2, after=T0 + 30 * M)
    assert following is not None and following.due == T0 + 35 * M
    assert timeline.next_step(2, after=T0 + 35 * M) == timeline.next_step(2, after=T0 + 39 * M)


def test_ticket_without_chain_has_only_its_expiry() -> None:
    timeline = Timeline(None, created_at=T0, expires_at=T0 + 60 * M)
    assert [s.kind for s in timeline.steps(0, since=T0)] == [StepKind.EXPIRE]


def test_plain_chain_dump_is_read_as_a_plan() -> None:
    chain = load_config(EXAMPLE).chain("payments-oncall")
    dump = {"chain": "payments-oncall", **chain.model_dump(mode="json")}
    timeline = Timeline(dump, created_at=T0, expires_at=T0 + 40 * M)
    assert [(lvl.level, (lvl.at - T0) / M) for lvl in timeline.levels] == [(1, 10), (2, 30)]


def test_schedules_must_be_given_when_a_level_names_one(config: SignoffConfig) -> None:
    with pytest.raises(ConfigError, match="unknown schedule 'primary'"):
        plan(config.chain("looped"), created_at=T0)


def test_naive_creation_time_is_refused(config: SignoffConfig) -> None:
    with pytest.raises(ValueError, match="aware"):
        plan(config.chain("rr"), created_at=datetime(2026, 1, 1))


def test_config_refuses_an_unknown_schedule() -> None:
    text = SCHEDULED.replace("schedules:\n  primary:", "schedules:\n  other:")
    with pytest.raises(ConfigError, match="unknown schedule 'primary'"):
        parse_config(text)
