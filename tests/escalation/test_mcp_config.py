"""The ``mcp:`` section: upstreams for ``signoff mcp-proxy``, errors with file, line and fix;
and rules on ``annotations.*`` that read the tool's annotations, never its arguments."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from escalation.config import load_config, parse_config
from escalation.policy import Policy, Proposal, recorded_annotations, with_annotations
from tests.escalation.test_config import EXAMPLE_TEXT, line_of, one_problem

MCP = """
mcp:
  requested_by: U0REQUESTER
  wait: 30s
  upstreams:
    files: {command: python, args: [-m, files], env: {ROOT: /srv}}
    db: {url: "http://127.0.0.1:9000/mcp"}
"""


def test_upstreams_load(tmp_path: Path) -> None:
    path = tmp_path / "signoff.yml"
    path.write_text(EXAMPLE_TEXT + MCP)
    mcp = load_config(path).mcp
    assert mcp.wait == timedelta(seconds=30) and mcp.requested_by == "U0REQUESTER"
    assert mcp.upstreams["files"].args == ("-m", "files")
    assert mcp.upstreams["db"].url == "http://127.0.0.1:9000/mcp"
    assert parse_config(EXAMPLE_TEXT).mcp.wait == timedelta(seconds=50)


@pytest.mark.parametrize(("entry", "key", "needle"), [
    ("files: {args: [x]}", "mcp.upstreams.files", "exactly one of command"),
    ('files: {command: x, url: "http://h/mcp"}', "mcp.upstreams.files", "exactly one"),
    ('files: {url: "ftp://h/mcp"}', "mcp.upstreams.files", "not an http(s) URL"),
    ("files: {command: x, tiemout: 3}", "mcp.upstreams.files.tiemout", ""),
    ("Files!: {command: x}", "mcp.upstreams.Files!", "not a plain name"),
])
def test_bad_upstreams_name_file_line_and_fix(tmp_path: Path, entry: str, key: str,
                                              needle: str) -> None:
    text = EXAMPLE_TEXT + f"\nmcp:\n  upstreams:\n    {entry}\n"
    problem = one_problem(text, tmp_path, key)
    assert problem.line == line_of(text, entry)
    assert needle in str(problem)


RULES = """
    - action: "files.*"
      when: {annotations.destructiveHint: {eq: true}}
      decide: deny
      reason: no destructive file tools
"""


def test_annotations_come_from_the_tool_not_the_arguments() -> None:
    text = EXAMPLE_TEXT.replace("  rules:\n", "  rules:\n" + RULES.lstrip("\n"), 1)
    policy = Policy(parse_config(text))
    destructive = {"destructiveHint": True}
    told = policy.evaluate(Proposal(action="files.rm", args={"path": "/"},
                                    requested_by="U0REQUESTER", annotations=destructive))
    assert told.decision == "deny"
    # An argument named like the annotations does not pose as them, either way round.
    spoof = policy.evaluate(Proposal(action="files.rm", requested_by="U0REQUESTER",
                                     args={"annotations": {"destructiveHint": False}},
                                     annotations=destructive))
    assert spoof.decision == "deny"
    forged = policy.evaluate(Proposal(action="files.ls", requested_by="U0REQUESTER",
                                      args={"annotations": {"destructiveHint": True}}))
    assert forged.decision != "deny"
    kept = with_annotations({"type": "object"}, destructive)
    assert recorded_annotations(kept) == destructive and kept is not None
    assert kept["type"] == "object" and recorded_annotations(None) == {}
