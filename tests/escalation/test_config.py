"""Loading signoff.yml: the example, durations, and precise errors for bad files."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import jsonschema
import pytest
import yaml

from escalation.config import (
    ConfigInvalid,
    ConfigNotFound,
    Problem,
    config_json_schema,
    load_config,
    parse_config,
)
from escalation.durations import DurationError, format_duration, parse_duration
from store.errors import ConfigError

EXAMPLE = Path(__file__).parent.parent / "fixtures" / "signoff.example.yml"
EXAMPLE_TEXT = EXAMPLE.read_text()


def line_of(text: str, needle: str, nth: int = 1) -> int:
    """1-based line of the nth line containing ``needle``."""
    hits = [i for i, line in enumerate(text.splitlines(), start=1) if needle in line]
    return hits[nth - 1]


def problems(text: str, tmp_path: Path) -> tuple[Path, list[Problem]]:
    file = tmp_path / "signoff.yml"
    file.write_text(text)
    with pytest.raises(ConfigInvalid) as info:
        load_config(file)
    return file, info.value.problems


def one_problem(text: str, tmp_path: Path, key: str) -> Problem:
    file, found = problems(text, tmp_path)
    assert all(p.file == str(file) for p in found)
    matching = [p for p in found if p.key == key]
    assert matching, f"no problem at {key}; got: {[str(p) for p in found]}"
    return matching[0]


def test_example_loads_as_it_stands() -> None:
    config = load_config(EXAMPLE)
    assert config.policy_version == "2026-11-20"
    assert config.sweep_every == timedelta(seconds=15)
    route = config.route("payments")
    assert (route.name, route.channel, route.chain) == ("payments", "C0PAYMENTS", "payments-oncall")
    assert route.approvers == ("U0PAYLEAD", "U0FINOPS")
    assert route.approvals_required == 1
    assert config.route("default").approvers == ("S0SREGROUP",)
    chain = config.chain("payments-oncall")
    assert chain.level_offsets() == (timedelta(minutes=10), timedelta(minutes=30))
    assert (chain.remind_every, chain.expire_after) == (timedelta(minutes=5), timedelta(hours=1))
    assert (chain.loops, chain.remind_max) == (1, None)
    assert len(config.policy.rules) == 6


def test_unknown_names_raise_config_error() -> None:
    config = load_config(EXAMPLE)
    with pytest.raises(ConfigError, match="unknown route 'nope'; defined: default, payments"):
        config.route("nope")
    with pytest.raises(ConfigError, match="unknown chain"):
        config.chain("nope")


@pytest.mark.parametrize(("text", "seconds"), [
    ("30s", 30), ("10m", 600), ("2h", 7200), ("1d", 86400), ("1h30m", 5400),
    ("1d2h3m4s", 93784), (" 45S ", 45),
])
def test_durations(text: str, seconds: int) -> None:
    value = parse_duration(text)
    assert value == timedelta(seconds=seconds)
    assert parse_duration(format_duration(value)) == value


@pytest.mark.parametrize("text", ["", "10", "1.5h", "10 minutes", "m10", "30m1h", "1h1h", "0s",
                                  "-5m", "99999d"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(DurationError, match=r"e\.g\.|use"):
        parse_duration(text)


def test_policy_version_defaults_to_a_hash_and_accepts_a_bare_date() -> None:
    unversioned = EXAMPLE_TEXT.replace('policy_version: "2026-11-20"\n', "")
    first, second = parse_config(unversioned), parse_config(unversioned + "\n# comment\n")
    assert first.policy_version.startswith("sha256:")
    assert first.policy_version == second.policy_version
    edited = parse_config(unversioned.replace("expire_after: 2h", "expire_after: 3h"))
    assert edited.policy_version != first.policy_version
    dated = EXAMPLE_TEXT.replace('"2026-11-20"', "2026-11-20")
    assert parse_config(dated).policy_version == "2026-11-20"


def test_unknown_route_in_rule(tmp_path: Path) -> None:
    text = EXAMPLE_TEXT.replace("      route: payments\n      approvals: 2",
                                "      route: paymnts\n      approvals: 2")
    problem = one_problem(text, tmp_path, "policy.rules[1].route")
    assert problem.line == line_of(text, "route: paymnts")
    assert problem.message == "unknown route 'paymnts'"
    assert problem.fix == "did you mean 'payments'? defined routes: default, payments"


def test_unknown_chain_in_route(tmp_path: Path) -> None:
    text = EXAMPLE_TEXT.replace("chain: payments-oncall", "chain: paymnts-oncall")
    problem = one_problem(text, tmp_path, "routes.payments.chain")
    assert problem.line == line_of(text, "chain: paymnts-oncall")
    assert "unknown chain 'paymnts-oncall'" in problem.message
    assert problem.fix is not None and "defined chains: payments-oncall, standard" in problem.fix
    assert f":{problem.line} routes.payments.chain: unknown chain 'paymnts-oncall'" in str(problem)


def test_unknown_reviewer_group_in_route(tmp_path: Path) -> None:
    text = EXAMPLE_TEXT.replace("approvers: sre", "approvers: sres")
    problem = one_problem(text, tmp_path, "routes.default.approvers")
    assert problem.line == line_of(text, "approvers: sres")
    assert problem.fix == "did you mean 'sre'? defined reviewers: payments-approvers, sre"


def test_bad_duration(tmp_path: Path) -> None:
    text = EXAMPLE_TEXT.replace("remind_every: 5m", "remind_every: 5 minutes")
    problem = one_problem(text, tmp_path, "chains.payments-oncall.remind_every")
    assert problem.line == line_of(text, "5 minutes")
    assert problem.message == "'5 minutes' is not a duration"
    assert problem.fix is not None and "30s, 10m, 2h, 1d or 1h30m" in problem.fix


def test_unknown_key_suggests_the_right_one(tmp_path: Path) -> None:
    text = EXAMPLE_TEXT.replace("remind_every: 10m", "remind_evry: 10m")
    problem = one_problem(text, tmp_path, "chains.standard.remind_evry")
    assert problem.line == line_of(text, "remind_evry")
    assert problem.message == "unknown key 'remind_evry'"
    assert problem.fix is not None and problem.fix.startswith("did you mean 'remind_every'?")
    assert "allowed here: levels, remind_every, expire_after, loops, remind_max" in problem.fix


@pytest.mark.parametrize("key", ["approve_on_timeout", "on_timeout", "auto_approve"])
def test_no_setting_approves_on_timeout(tmp_path: Path, key: str) -> None:
    text = EXAMPLE_TEXT.replace("    expire_after: 2h", f"    expire_after: 2h\n    {key}: true")
    problem = one_problem(text, tmp_path, f"chains.standard.{key}")
    assert problem.line == line_of(text, key)
    assert "approves or runs an action because time passed" in problem.message
    assert problem.fix is not None and "expiry is a denial" in problem.fix


@pytest.mark.parametrize(("old", "new", "key", "message"), [
    ("channel: C0PAYMENTS", "channel: 42", "routes.payments.channel",
     "expected text, got the number 42"),
    ("channel: C0PAYMENTS", "channel: '#payments'", "routes.payments.channel",
     "'#payments' is not a Slack channel id"),
    ("approvals: 2", "approvals: two", "policy.rules[1].approvals",
     "expected a whole number, got the text 'two'"),
    ("sre: [S0SREGROUP]", "sre: S0SREGROUP", "reviewers.sre",
     "expected a list, got the text 'S0SREGROUP'"),
    ("when: {amount: {gt: 1000}}", "when: {amount: {gt: '1000'}}", "policy.rules[1].when.amount.gt",
     "expected a number, got '1000'"),
    ("tier: critical", "tier: severe", "policy.rules[1].tier", "'severe' is not allowed here"),
    ("decide: deny", "decide: block", "policy.rules[4].decide", "'block' is not allowed here"),
    ("confidence_below: 0.5", "confidence_below: 5", "policy.rules[5].confidence_below",
     "5 is out of range: it must be at most 1"),
    ("version: 1", "version: 2", "version", "unsupported version 2"),
    ("[U0PAYLEAD, U0FINOPS]", "[U0PAYLEAD, alice]", "reviewers.payments-approvers[1]",
     "'alice' is not a Slack user or user-group id"),
])
def test_wrong_types_and_values(tmp_path: Path, old: str, new: str, key: str,
                                message: str) -> None:
    text = EXAMPLE_TEXT.replace(old, new, 1)
    problem = one_problem(text, tmp_path, key)
    assert problem.line == line_of(text, new)
    assert problem.message == message


def test_default_allow_is_refused_with_the_fix(tmp_path: Path) -> None:
    text = EXAMPLE_TEXT.replace("default: require_approval", "default: allow")
    problem = one_problem(text, tmp_path, "policy.default")
    assert problem.line == line_of(text, "default: allow")
    assert "cannot be allow" in problem.message
    assert problem.fix is not None and "use require_approval (or deny)" in problem.fix


def test_yaml_syntax_error(tmp_path: Path) -> None:
    text = EXAMPLE_TEXT.replace("    chain: standard", "    chain: standard: oops")
    file, found = problems(text, tmp_path)
    assert len(found) == 1
    assert found[0].file == str(file)
    assert found[0].line == line_of(text, "standard: oops")
    assert found[0].message.startswith("YAML syntax error")


def test_unquoted_star_gets_a_quoting_hint(tmp_path: Path) -> None:
    text = EXAMPLE_TEXT.replace('action: "search_*"', "action: *")
    _, found = problems(text, tmp_path)
    assert found[0].line == line_of(text, "action: *")
    assert found[0].fix is not None and "quote" in found[0].fix


def test_missing_file_names_the_path_and_the_variable(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "signoff.yml"
    with pytest.raises(ConfigNotFound) as info:
        load_config(missing)
    assert isinstance(info.value, ConfigError)
    assert str(missing) in str(info.value)
    assert "SIGNOFF_CONFIG" in str(info.value)
    assert info.value.problems[0].file == str(missing)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = (EXAMPLE_TEXT.replace("chain: payments-oncall", "chain: nope")
            .replace("after: 20m", "after: soon")
            .replace("decide: deny", "decide: block\n      route: payments")
            .replace("route: payments\n      approvals: 2", "route: nope\n      approvals: 2"))
    _, found = problems(text, tmp_path)
    keys = [p.key for p in found]
    assert keys == ["routes.payments.chain", "chains.payments-oncall.levels[1].after",
                    "policy.rules[1].route", "policy.rules[4].decide"]
    assert [p.line for p in found] == sorted(p.line or 0 for p in found)
    with pytest.raises(ConfigInvalid, match="4 problems in the configuration"):
        load_config(tmp_path / "signoff.yml")


def test_rule_without_route_needs_a_default_route(tmp_path: Path) -> None:
    text = EXAMPLE_TEXT.replace("  default:\n    channel", "  general:\n    channel")
    _, found = problems(text, tmp_path)
    keys = {p.key for p in found}
    assert {"policy.default", "policy.rules[3].decide", "policy.rules[5].decide"} <= keys


def test_approvals_beyond_the_group_size(tmp_path: Path) -> None:
    text = EXAMPLE_TEXT.replace("approvals: 2", "approvals: 3")
    problem = one_problem(text, tmp_path, "policy.rules[1].approvals")
    assert "has 2 members" in problem.message
    # A Slack user group's size is unknowable offline, so it is not checked.
    parse_config(EXAMPLE_TEXT.replace("    chain: standard", "    chain: standard\n"
                                      "    approvals: 5"))


def test_levels_must_come_before_expiry(tmp_path: Path) -> None:
    text = EXAMPLE_TEXT.replace("after: 20m", "after: 50m")
    problem = one_problem(text, tmp_path, "chains.payments-oncall")
    assert "level 2 would be reached 1h after the request" in problem.message


@pytest.mark.parametrize(("old", "new", "key", "message"), [
    ("      decide: allow\n", "      decide: allow\n      route: payments\n",
     "policy.rules[0].route", "route only applies to rules that decide: require_approval"),
    ("    - confidence_below: 0.5\n", "    - reason: anything\n", "policy.rules[5]",
     "this rule has no condition"),
    ("    - action: drop_database\n", "    - name: rules[1] issue_refund\n      action: drop\n",
     "policy.rules[4].name", "rule name 'rules[1] issue_refund' is used twice"),
    ("  sre: [S0SREGROUP]", "  sre: [S0SREGROUP]\n  sre: [S0OTHER]", "reviewers.sre",
     "duplicate key 'sre'"),
])
def test_rule_and_structure_checks(tmp_path: Path, old: str, new: str, key: str,
                                   message: str) -> None:
    problem = one_problem(EXAMPLE_TEXT.replace(old, new), tmp_path, key)
    assert message in problem.message


@pytest.mark.parametrize(("text", "message"), [("", "the file is empty"),
                                               ("- a\n- b\n", "must be a mapping")])
def test_empty_or_non_mapping_file(text: str, message: str) -> None:
    with pytest.raises(ConfigInvalid, match=message) as info:
        parse_config(text, "x.yml")
    assert info.value.problems[0].file == "x.yml"


def test_json_schema_accepts_the_example_and_rejects_default_allow() -> None:
    schema = config_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    data = yaml.safe_load(EXAMPLE_TEXT)
    jsonschema.validate(data, schema)
    data["policy"]["rules"][1]["when"] = {"currency": "EUR"}  # scalar shorthand for eq
    jsonschema.validate(data, schema)
    data["policy"]["default"] = "allow"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, schema)
