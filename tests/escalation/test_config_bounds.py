"""signoff.yml is bounded: alias bombs, 10,000-deep nesting, self-containing aliases and huge
files are refused by ``check-config`` and ``serve`` with file, line, key and fix, at once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from escalation.config import ConfigInvalid, load_config
from escalation.yaml_marks import MAX_BYTES
from tests.escalation.test_config_cli import run

EXAMPLE = Path(__file__).parent.parent / "fixtures" / "signoff.example.yml"


def _bomb(levels: int = 9) -> str:
    """The example, plus a rule whose ``in:`` list is a billion laughs (9**levels values)."""
    lines = ["    - action: lol", "      decide: deny",
             "      when: {tag: {in: &a0 [l, l, l, l, l, l, l, l, l]}}"]
    for i in range(1, levels):
        lines.append(f"    - {{action: lol{i}, decide: deny, when: {{tag: {{in: &a{i} "
                     f"[{', '.join([f'*a{i - 1}'] * 9)}]}}}}}}")
    return EXAMPLE.read_text() + "\n".join(lines) + "\n"


def _deep(opening: str, closing: str, depth: int = 10_000) -> str:
    nested = opening * depth + closing * depth
    return EXAMPLE.read_text() + (f"    - action: deep\n      decide: deny\n"
                                  f"      when: {{x: {{in: [{nested}]}}}}\n")


CASES = {
    "alias-bomb": (_bomb(), "expand to more than", "instead of aliasing aliases"),
    "deep-lists": (_deep("[", "]"), "nested more than 64 levels deep", "flatten"),
    "deep-mappings": (_deep("{a: ", "}"), "nested more than 64 levels deep", "flatten"),
    "self-alias": (EXAMPLE.read_text() + "    - {action: me, decide: deny, "
                   "when: {x: {in: &me [1, *me]}}}\n", "contain itself", "remove the alias"),
    "huge-file": (EXAMPLE.read_text() + "#" * MAX_BYTES + "\n", "the limit is", "settings"),
}


@pytest.mark.timeout(30)
@pytest.mark.parametrize("case", list(CASES))
def test_check_config_refuses_a_file_beyond_the_bounds(case: str, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    text, message, fix = CASES[case]
    path = tmp_path / "signoff.yml"
    path.write_text(text)
    code, out, err = run(["check-config", str(path)], capsys)
    said = out + err
    assert code == 1
    assert f"{path}:" in said and message in said and fix in said
    with pytest.raises(ConfigInvalid) as info:
        load_config(path)
    problem = info.value.problems[0]
    assert problem.file == str(path) and problem.fix is not None
    if case != "huge-file":
        assert problem.line is not None and problem.line > 30  # the rule's line, not line 1
        assert problem.key.startswith("policy.rules[")


@pytest.mark.timeout(60)
def test_serve_refuses_an_alias_bomb(tmp_path: Path) -> None:
    path = tmp_path / "signoff.yml"
    path.write_text(_bomb())
    env = {"SIGNOFF_CONFIG": str(path), "SIGNOFF_DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
           "SLACK_BOT_TOKEN": "xoxb-x", "SLACK_SIGNING_SECRET": "s",
           "PYTHONPATH": str(Path(__file__).parents[2]), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "bot.cli", "serve", "--port", "0",
                          "--no-scheduler"], env=env, text=True, capture_output=True,
                         timeout=50)
    assert out.returncode == 1
    assert "alias bomb" in out.stderr and "Traceback" not in out.stderr


def test_ordinary_anchors_and_aliases_still_work(tmp_path: Path) -> None:
    path = tmp_path / "signoff.yml"
    path.write_text(EXAMPLE.read_text().replace(
        "payments-approvers: [U0PAYLEAD, U0FINOPS]",
        "payments-approvers: &pay [U0PAYLEAD, U0FINOPS]\n  payments-copy: *pay")
        + "    - {action: small_*, decide: deny, when: &small {amount: {lt: 0}}}\n"
        + "    - {action: tiny_*, decide: deny, when: *small}\n")
    config = load_config(path)
    assert config.group("payments-copy") == ("U0PAYLEAD", "U0FINOPS")
    assert _bomb(levels=3)  # a small nest of aliases (81 values) is an ordinary file
    small = tmp_path / "small.yml"
    small.write_text(_bomb(levels=3))
    assert load_config(small).policy.rules[-1].action == "lol2"
