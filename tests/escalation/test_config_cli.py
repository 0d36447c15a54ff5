"""``check-config``, ``config-schema`` and ``policy explain``, run in-process via ``register``."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest

from bot.commands.config_cmds import register

EXAMPLE = Path(__file__).parent.parent / "fixtures" / "signoff.example.yml"


def run(argv: list[str], capsys: pytest.CaptureFixture[str],
        default_config: str | None = None) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="signoff")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    if default_config is not None:
        args.default_config = default_config
    code = args.func(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_check_config_prints_the_tables(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["check-config", str(EXAMPLE)], capsys)
    assert code == 0
    assert f"{EXAMPLE}: OK (version 1, policy_version 2026-11-20, sweep every 15s)" in out
    for header in ("Routes", "Reviewers", "Chains", "Rules"):
        assert f"\n{header}" in out
    payments = next(line for line in out.splitlines() if line.startswith("  payments "))
    assert payments.split() == ["payments", "C0PAYMENTS", "payments-approvers",
                                "(U0PAYLEAD,", "U0FINOPS)", "payments-oncall", "1"]
    assert "10m: U0PAYONCALL; 30m: U0PAYMGR" in out
    refund = next(line for line in out.splitlines() if "amount > 1000" in line)
    assert refund.split()[7:13] == ["require_approval", "critical", "payments",
                                    "payments-approvers", "2", "approval"]


def test_check_config_path_comes_from_option_or_caller_default(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert run(["check-config", "--config", str(EXAMPLE)], capsys)[0] == 0
    assert run(["check-config"], capsys, default_config=str(EXAMPLE))[0] == 0
    code, out, _ = run(["check-config"], capsys, default_config=str(tmp_path / "none.yml"))
    assert code == 1
    assert "none.yml: configuration file not found" in out
    assert "SIGNOFF_CONFIG" in out


def test_check_config_lists_every_problem_and_fails(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "signoff.yml"
    text = (EXAMPLE.read_text().replace("chain: payments-oncall", "chain: paymnts-oncall")
            .replace("expire_after: 2h", "expire_after: two hours")
            .replace("default: require_approval", "default: allow"))
    bad.write_text(text)
    code, out, _ = run(["check-config", str(bad)], capsys)
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == (f"{bad}:15 routes.payments.chain: unknown chain 'paymnts-oncall' — "
                        "did you mean 'payments-oncall'? defined chains: payments-oncall, standard")
    assert lines[1].startswith(f"{bad}:22 chains.standard.expire_after: 'two hours' is not a "
                               "duration — ")
    assert lines[2].startswith(f"{bad}:32 policy.default: policy.default cannot be allow")
    assert lines[3] == "3 problems; signoff will not start with this configuration"


@pytest.mark.parametrize(("text", "needle"), [
    ("version: 1\nroutes: [\n", "YAML syntax error"),
    ("version: 1\nrouts: {}\n", "unknown key 'routs' — did you mean 'routes'?"),
])
def test_check_config_syntax_and_unknown_keys(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, needle: str
) -> None:
    bad = tmp_path / "signoff.yml"
    bad.write_text(text)
    code, out, _ = run(["check-config", str(bad)], capsys)
    assert code == 1
    assert f"{bad}:" in out and needle in out


def test_config_schema_prints_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["config-schema"], capsys)
    assert code == 0
    schema = json.loads(out)
    assert schema["title"] == "signoff.yml"
    assert set(schema["properties"]) >= {"version", "reviewers", "routes", "chains", "policy"}


def write_action(tmp_path: Path, **data: object) -> str:
    path = tmp_path / "action.json"
    path.write_text(json.dumps(data))
    return str(path)


def test_policy_explain_text(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    action = write_action(tmp_path, action="issue_refund", args={"amount": 5000},
                          requested_by="U0AGENT", confidence=0.9, why="customer asked")
    code, out, _ = run(["policy", "explain", action, "--config", str(EXAMPLE)], capsys)
    assert code == 0
    for expected in ("decision: require_approval", "rule: rules[1] issue_refund",
                     "matched: rules[1] issue_refund, rules[2] issue_refund", "tier: critical",
                     "route: payments (channel C0PAYMENTS; approvers U0PAYLEAD, U0FINOPS)",
                     "approvals: 2", "chain: payments-oncall",
                     "expires after: 40m (chain payments-oncall ends first; expire_after 1h)",
                     "policy_version: 2026-11-20"):
        assert expected in out


def test_policy_explain_json_and_stdin(capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    stdin = json.dumps({"action": "drop_database", "args": {}, "requested_by": "U0AGENT"})
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code, out, _ = run(["policy", "explain", "-", "--json"], capsys, default_config=str(EXAMPLE))
    assert code == 0
    data = json.loads(out)
    assert (data["decision"], data["rule"], data["reason"]) == (
        "deny", "rules[4] drop_database", "never from an agent")
    assert data["route"] is None and data["policy_version"] == "2026-11-20"
    assert [c["matched"] for c in data["checks"]] == [False, False, False, False, True, False]


@pytest.mark.parametrize("content", ["not json", "[1, 2]", '{"action": "x"}'])
def test_policy_explain_rejects_a_bad_action_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: str
) -> None:
    path = tmp_path / "action.json"
    path.write_text(content)
    code, out, err = run(["policy", "explain", str(path), "--config", str(EXAMPLE)], capsys)
    assert code == 2
    assert out == ""
    assert str(path) in err


def test_policy_explain_with_a_broken_config_fails(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    action = write_action(tmp_path, action="x", requested_by="U0AGENT")
    code, out, _ = run(["policy", "explain", action, "--config", str(tmp_path / "no.yml")],
                       capsys)
    assert code == 1
    assert "configuration file not found" in out
