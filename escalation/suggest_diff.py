"""Suggestions as a unified diff of ``signoff.yml``: lines inserted next to the rules they
change, so comments and layout survive. A human reviews and applies the diff."""

from __future__ import annotations

import difflib
import json
import re

from escalation.suggest import Suggestion
from escalation.yaml_marks import Marks


def _indent(line: str) -> tuple[str, str]:
    """The indentation of a ``- key: value`` sequence item, and of its other keys."""
    stripped = line.lstrip(" ")
    lead = line[: len(line) - len(stripped)]
    return lead, lead + "  " if stripped.startswith("- ") else lead


_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")


def _flow(value: object) -> str:
    """A scalar as YAML: plain when it is a simple name, quoted otherwise (globs, spaces)."""
    if isinstance(value, str):
        return value if _PLAIN.fullmatch(value) else json.dumps(value)
    return str(value)


def _relax_lines(s: Suggestion, item: str) -> list[str]:
    lines = [f"{item}- action: {_flow(s.action)}"]
    if s.arg is not None:
        lines.append(f"{item}  when: {{{s.arg}: {{lte: {s.bound}}}}}")
    lines += [f"{item}  decide: allow", f"{item}  # suggested: {s.evidence}"]
    return lines


def _narrow(lines: list[str], inserts: dict[int, list[str]], marks: Marks, s: Suggestion,
            at: int, keys: str) -> None:
    """Make the reviewed rule stop at the bound (``arg > bound``), so the new allow rule is
    not outweighed by it: the most severe match wins."""
    condition = f"{s.arg}: {{gt: {s.bound}}}"
    when = marks.lines.get(("policy", "rules", str(s.rule_index), "when"))
    if when is None:
        inserts.setdefault(at, []).append(f"{keys}when: {{{condition}}}")
        return
    line = lines[when - 1]
    if "{" in line.partition("when:")[2]:  # flow style on one line: when: {a: {eq: 1}}
        end = line.rindex("}")
        lines[when - 1] = line[:end] + f", {condition}" + line[end:]
    else:  # block style: the conditions follow on deeper lines
        inserts.setdefault(when, []).append(f"{keys}  {condition}")


def apply(text: str, marks: Marks, suggestions: list[Suggestion]) -> tuple[str, list[str]]:
    """The edited text, and notes for suggestions that could not be written as lines."""
    lines = text.splitlines()
    inserts: dict[int, list[str]] = {}  # 0-based line index -> lines to insert before it
    notes: list[str] = []
    first_rule = marks.lines.get(("policy", "rules", "0"))
    for s in suggestions:
        at = (marks.lines.get(("policy", "rules", str(s.rule_index)))
              if s.rule_index is not None else first_rule)
        if at is None:
            notes.append(f"{s.action}: add by hand ({s.evidence})")
            continue
        item, keys = _indent(lines[at - 1])
        if s.kind == "relax":
            inserts.setdefault(at - 1, []).extend(_relax_lines(s, item))
            if s.rule_index is not None and s.arg is not None:
                _narrow(lines, inserts, marks, s, at, keys)
        else:
            change = s.change or {}
            inserts.setdefault(at, []).extend(f"{keys}{k}: {_flow(v)}  # suggested: "
                                              f"{s.evidence}" for k, v in change.items())
    out: list[str] = []
    for index, line in enumerate(lines):
        out.extend(inserts.get(index, []))
        out.append(line)
    out.extend(inserts.get(len(lines), []))
    return "\n".join(out) + "\n", notes


def unified(original: str, edited: str, path: str) -> str:
    return "".join(difflib.unified_diff(original.splitlines(keepends=True),
                                        edited.splitlines(keepends=True),
                                        fromfile=path, tofile=f"{path} (suggested)"))
