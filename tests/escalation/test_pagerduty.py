"""PagerDuty import: policies and schedules in, chains out, and back again unchanged."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.commands import oncall_cmds
from escalation.chains import plan
from escalation.config import SignoffConfig, parse_config
from escalation.pagerduty import (
    ImportProblem,
    import_policy,
    is_round_robin,
    reverse_identity,
    schedule_ids,
    schedule_to_pagerduty,
    to_pagerduty,
    unwrap_schedules,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "pagerduty"
API_EXAMPLE = FIXTURES / "escalation_policy.json"
PAYMENTS = FIXTURES / "payments_policy.json"
SCHEDULES = FIXTURES / "schedules.json"
IDENTITY = FIXTURES / "identity.yml"


def load(path: Path) -> Any:
    return json.loads(path.read_text()) if path.suffix == ".json" else yaml.safe_load(
        path.read_text())


def as_config(sections: dict[str, Any]) -> SignoffConfig:
    """The imported sections inside an otherwise minimal signoff.yml."""
    (chain,) = sections["chains"]
    base = {"version": 1, "reviewers": {"ops": ["U0OPS"]},
            "routes": {"default": {"channel": "C0OPS", "approvers": "ops", "chain": chain}}}
    return parse_config(yaml.safe_dump({**base, **sections}, sort_keys=False))


def imported(policy: Path, schedules: Path | None = None) -> dict[str, Any]:
    return import_policy(load(policy), load(IDENTITY),
                         schedules_json=load(schedules) if schedules else None)


def normalised_rules(policy: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [(r["escalation_delay_in_minutes"],
             [(t["id"], t["type"].replace("user", "user_reference").replace(
                 "user_reference_reference", "user_reference")) for t in r["targets"]],
             is_round_robin(r)) for r in policy["escalation_policy"]["escalation_rules"]]


def test_api_reference_example_imports() -> None:
    sections = imported(API_EXAMPLE)
    assert sections == {"chains": {"engineering-escalation-policy": {
        "levels": [{"notify": ["U0ALICE"], "after": "30m"}],
        "loops": 3,  # num_loops: 2 repeats after the first pass
        "expire_after": "2h",
    }}}


def test_api_reference_example_round_trips() -> None:
    original = load(API_EXAMPLE)
    config = as_config(imported(API_EXAMPLE))
    back = to_pagerduty(config.chain("engineering-escalation-policy"),
                        users=reverse_identity(load(IDENTITY)), schedules={},
                        name=original["escalation_policy"]["name"])
    assert normalised_rules(back) == normalised_rules(original)
    assert back["escalation_policy"]["num_loops"] == original["escalation_policy"]["num_loops"]
    assert back["escalation_policy"]["name"] == "Engineering Escalation Policy"


def test_policy_with_schedules_and_round_robin_round_trips() -> None:
    original = load(PAYMENTS)
    sections = imported(PAYMENTS, SCHEDULES)
    config = as_config(sections)
    chain = config.chain("payments-on-call")
    assert [lvl.round_robin for lvl in chain.levels] == [False, True, False]
    assert chain.levels[0].notify == ("schedule:payments-primary",)
    back = to_pagerduty(chain, users=reverse_identity(load(IDENTITY)),
                        schedules=schedule_ids(load(SCHEDULES)))
    assert normalised_rules(back) == normalised_rules(original)
    assert back["escalation_policy"]["num_loops"] == 1


def test_every_rule_keeps_its_window_shifted_by_the_last_delay() -> None:
    config = as_config(imported(PAYMENTS, SCHEDULES))
    created = datetime(2026, 3, 9, 14, 0, tzinfo=UTC)  # Monday 10:00 in New York
    fixed = plan(config.chain("payments-on-call"), created_at=created,
                 schedules=config.schedules)
    delays = [15, 20, 30]  # PagerDuty: rule 1 at 0, rule 2 at 15, rule 3 at 35, again at 65…
    pd_times = [p * sum(delays) + sum(delays[:i]) for p in range(2) for i in range(3)]
    assert [(lvl.at - created) / timedelta(minutes=1) for lvl in fixed.levels] == [
        delays[-1] + t for t in pd_times]
    assert fixed.expires_at == created + timedelta(minutes=30 + 2 * 65)
    assert fixed.levels[0].targets == ("U0CAROL",)  # week 10 of the rotation: Carol's turn
    assert fixed.levels[0].via == {"U0CAROL": "schedule:payments-primary"}


@pytest.mark.parametrize(("at", "who"), [
    ("2026-01-05T10:00:00-05:00", "U0BOB"),  # Monday, first week
    ("2026-01-12T10:00:00-05:00", "U0CAROL"),  # second week
    ("2026-01-05T23:00:00-05:00", "U0DAVE"),  # night cover, the higher layer
    ("2026-01-06T07:59:00-05:00", "U0DAVE"),
    ("2026-01-09T17:00:00-05:00", None),  # Friday after five: nobody
    ("2026-01-10T12:00:00-05:00", None),  # Saturday noon
    ("2026-03-10T13:00:00-04:00", "U0ALICE"),  # override (after the DST change)
])
def test_imported_schedule_answers_like_pagerduty(at: str, who: str | None) -> None:
    config = as_config(imported(PAYMENTS, SCHEDULES))
    assert config.schedules["payments-primary"].on_call(datetime.fromisoformat(at)) == who


def test_schedule_round_trips() -> None:
    (original,) = load(SCHEDULES)["schedules"]
    config = as_config(imported(PAYMENTS, SCHEDULES))
    users = {"U0ALICE": "PEYSGVF", "U0BOB": "PUSER01", "U0CAROL": "PUSER02", "U0DAVE": "PUSER03"}
    back = schedule_to_pagerduty(config.schedules["payments-primary"], users=users)

    def layer(data: dict[str, Any]) -> tuple[Any, ...]:
        return (data["name"], datetime.fromisoformat(data["start"]),
                datetime.fromisoformat(data["rotation_virtual_start"]),
                data["rotation_turn_length_seconds"], [u["user"]["id"] for u in data["users"]],
                [(r["type"], r["start_time_of_day"], r["duration_seconds"],
                  r.get("start_day_of_week")) for r in data["restrictions"]])

    assert [layer(x) for x in back["schedule_layers"]] == [
        layer(x) for x in original["schedule_layers"]]
    assert back["time_zone"] == original["time_zone"]
    assert [(datetime.fromisoformat(o["start"]), o["user"]["id"]) for o in back["overrides"]] == [
        (datetime.fromisoformat(o["start"]), o["user"]["id"]) for o in original["overrides"]]


@pytest.mark.parametrize(("rule", "expected"), [
    ({"escalation_rule_assignment_strategy": "round_robin"}, True),
    ({"escalation_rule_assignment_strategy": "assign_to_everyone"}, False),
    ({"escalation_rule_assignment_strategy": {"type": "round_robin"}}, True),
    ({"escalation_rule_assignment_strategy": [{"type": "round_robin"}]}, True),
    ({"escalation_rule_assignment_strategy": [{"type": "assign_to_everyone"}]}, False),
    ({"escalation_rule_assignment_strategy": []}, False),
    ({"round_robin": True}, True),
    ({}, False),
])
def test_round_robin_spellings(rule: dict[str, Any], expected: bool) -> None:
    assert is_round_robin(rule) is expected


def test_unmapped_people_are_named_not_dropped() -> None:
    with pytest.raises(ImportProblem, match=r"Dave Diaz \(PUSER03\).*Erin Ek \(PUSER04\)"):
        import_policy(load(PAYMENTS), {"users": {"PEYSGVF": "U0ALICE"}},
                      schedules_json=load(SCHEDULES))


def test_schedule_targets_need_their_schedule() -> None:
    with pytest.raises(ImportProblem, match=r"Payments Primary.*--schedules"):
        import_policy(load(PAYMENTS), load(IDENTITY))


@pytest.mark.parametrize("delay", [0, -5, "10", None, 1.5])
def test_bad_delays_are_refused(delay: Any) -> None:
    policy = load(API_EXAMPLE)
    policy["escalation_policy"]["escalation_rules"][0]["escalation_delay_in_minutes"] = delay
    with pytest.raises(ImportProblem, match="escalation_delay_in_minutes"):
        import_policy(policy, load(IDENTITY))


def test_lone_schedule_with_separate_overrides_file_shape() -> None:
    (schedule,) = load(SCHEDULES)["schedules"]
    overrides = schedule.pop("overrides")
    (merged,) = unwrap_schedules({"schedule": schedule, "overrides": overrides})
    assert merged["overrides"] == overrides


# -- the CLI ---------------------------------------------------------------------------------


def cli(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    oncall_cmds.register(parser.add_subparsers())
    args = parser.parse_args(list(argv))
    return int(args.func(args))


def test_cli_import_writes_yaml_that_loads(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "chain.yml"
    assert cli("oncall", "import-pagerduty", str(PAYMENTS), "--schedules", str(SCHEDULES),
               "--identity", str(IDENTITY), "--name", "payments", "--remind-every", "10m",
               "--output", str(out)) == 0
    sections = yaml.safe_load(out.read_text())
    chain = as_config(sections).chain("payments")
    assert chain.remind_every == timedelta(minutes=10) and chain.loops == 2


def test_cli_import_reports_problems(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("oncall", "import-pagerduty", str(PAYMENTS), "--identity", str(IDENTITY)) == 2
    assert "--schedules" in capsys.readouterr().err


def test_cli_who_lists_levels_people_and_the_deadline(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "signoff.yml"
    sections = imported(PAYMENTS, SCHEDULES)
    base = {"version": 1, "reviewers": {"ops": ["U0OPS"]},
            "routes": {"default": {"channel": "C0OPS", "approvers": "ops",
                                   "chain": "payments-on-call"}}}
    config.write_text(yaml.safe_dump({**base, **sections}, sort_keys=False))
    assert cli("oncall", "who", "payments-on-call", "--at", "2026-01-05T15:00Z",
               "--config", str(config)) == 0
    out = capsys.readouterr().out
    assert "level 1  U0BOB (via schedule:payments-primary)" in out
    assert "one of: U0DAVE, U0ERIN (round robin)" in out
    assert "level 3 (pass 2)  U0ALICE" in out
    assert "+2h40m" in out and "the chain is exhausted" in out
    assert cli("oncall", "who", "nope", "--config", str(config)) == 2
    assert "unknown chain 'nope'" in capsys.readouterr().err


def test_cli_who_uses_the_default_config(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    example = Path(__file__).parent.parent / "fixtures" / "signoff.example.yml"
    parser = argparse.ArgumentParser()
    oncall_cmds.register(parser.add_subparsers())
    args = parser.parse_args(["oncall", "who", "standard", "--at", "2026-01-05T12:00:00"])
    args.default_config = str(example)
    assert args.func(args) == 0
    assert "level 1  U0SREONCALL" in capsys.readouterr().out
