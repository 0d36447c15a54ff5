"""Every policy version that decides requests is kept with its exact rules."""

from __future__ import annotations

import argparse
import json
import threading
from pathlib import Path

import pytest

from bot import ApprovalClient, ConfigError
from bot.commands.config_cmds import register
from escalation.config import load_config, parse_config
from store.ledger import Ledger
from store.policies import PolicyVersionReused, apply_policy, policy_version, policy_versions

EXAMPLE = Path(__file__).parent.parent / "fixtures" / "signoff.example.yml"


def test_a_client_records_its_policy_once_with_an_audit_event(ledger: Ledger) -> None:
    config = load_config(EXAMPLE)
    ApprovalClient(ledger, config)
    ApprovalClient(ledger, config)
    kept = policy_version(ledger, "2026-11-20")
    assert kept is not None
    assert kept.policy == config.policy.model_dump(mode="json")
    assert [r["decide"] for r in kept.policy["rules"]][:2] == ["allow", "require_approval"]
    applied = [e for e in ledger.audit_events() if e.kind == "policy_applied"]
    assert [(e.data["version"], e.data["digest"]) for e in applied] == [
        ("2026-11-20", kept.digest)]


def test_the_same_version_with_other_rules_is_refused(ledger: Ledger) -> None:
    ApprovalClient(ledger, load_config(EXAMPLE))
    changed = parse_config(EXAMPLE.read_text().replace("gt: 1000", "gt: 5000"), "signoff.yml")
    with pytest.raises(ConfigError) as exc:
        ApprovalClient(ledger, changed)
    assert isinstance(exc.value, PolicyVersionReused)
    assert "give the changed policy a new policy_version" in str(exc.value)
    assert len(policy_versions(ledger)) == 1
    bumped = parse_config(EXAMPLE.read_text().replace("gt: 1000", "gt: 5000")
                          .replace('"2026-11-20"', '"2026-11-26"'), "signoff.yml")
    ApprovalClient(ledger, bumped)
    assert [v.version for v in policy_versions(ledger)] == ["2026-11-20", "2026-11-26"]


def test_processes_starting_together_record_it_once(ledger: Ledger) -> None:
    policy = load_config(EXAMPLE).policy.model_dump(mode="json")
    results: list[bool] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            results.append(apply_policy(ledger, "v-race", policy))
        except BaseException as exc:  # the assertion below shows what went wrong
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(results) == [False] * 7 + [True]


def test_policy_versions_and_show_commands(ledger: Ledger, db_url: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    ApprovalClient(ledger, load_config(EXAMPLE))

    def run(*argv: str) -> tuple[int, str]:
        parser = argparse.ArgumentParser(prog="signoff")
        register(parser.add_subparsers(dest="command", required=True))
        args = parser.parse_args(list(argv))
        args.settings = argparse.Namespace(database_url=db_url, audit_key_bytes=None)
        return args.func(args), capsys.readouterr().out

    code, out = run("policy", "versions")
    assert code == 0 and "2026-11-20" in out and " 6 rules" in out
    code, out = run("policy", "show", "2026-11-20")
    assert code == 0 and json.loads(out)["policy"]["default"] == "require_approval"
    code, out = run("policy", "show", "nope")
    assert code == 1 and "signoff policy versions" in out
