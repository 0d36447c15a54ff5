"""Reviewer corrections as a regression suite: every case exported by

    signoff eval export --since 90d > cases.jsonl

becomes one pytest test. Point the suite at your agent and run it:

    SIGNOFF_EVAL_CASES=cases.jsonl SIGNOFF_EVAL_AGENT=my_agent.evals:propose \
        pytest examples/eval_regression -q

``propose(request)`` receives the case's ``request`` object (action, args, reason, evidence,
confidence, ...) and returns what your agent would do now: ``{"action": ..., "args": ...}``
to propose a call, or ``{"escalate": "why"}`` to hand the task to a human. A case passes when
the agent no longer makes the mistake the reviewer corrected:

- edited: it proposes the arguments the reviewer approved (masked secrets are not compared);
- rejected: it no longer proposes the rejected call unchanged;
- taken_over: it escalates instead of proposing a call;
- info_requested: it proposes a call whose reason answers more than the original one did
  (here: a different reason), or escalates.

Without SIGNOFF_EVAL_AGENT the suite replays the original proposals, so every case fails:
that is the agent before the corrections.
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

MASK = "••••••"
Propose = Callable[[dict[str, Any]], dict[str, Any]]


def load_cases() -> list[dict[str, Any]]:
    path = os.environ.get("SIGNOFF_EVAL_CASES", "cases.jsonl")
    lines = Path(path).read_text(encoding="utf-8").splitlines() if Path(path).exists() else []
    return [json.loads(line) for line in lines if line.strip()]


def replay(request: dict[str, Any]) -> dict[str, Any]:
    """The agent as it was: it proposes exactly what it proposed before."""
    return {"action": request["action"], "args": request["args"], "reason": request["reason"]}


def agent() -> Propose:
    spec = os.environ.get("SIGNOFF_EVAL_AGENT")
    if not spec:
        return replay
    module, _, name = spec.partition(":")
    found: Propose = getattr(importlib.import_module(module), name)
    return found


def same_args(proposed: dict[str, Any], approved: dict[str, Any]) -> bool:
    """Equal, except that masked (secret) values match anything."""
    keys = set(proposed) | set(approved)
    return all(approved.get(k) == MASK or proposed.get(k) == approved.get(k) for k in keys)


CASES = load_cases()


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_the_agent_no_longer_makes_the_corrected_mistake(case: dict[str, Any]) -> None:
    request = case["request"]
    answer = agent()(request)
    kind = case["kind"]
    if kind == "taken_over":
        assert "escalate" in answer, "a human had to take this over; the agent should escalate"
    elif kind == "edited":
        assert answer.get("action") == request["action"]
        assert same_args(answer.get("args", {}), case["review"]["final_args"]), case["review"]
    elif kind == "rejected":
        assert "escalate" in answer or answer.get("args") != request["args"], \
            case["review"]["decisions"][-1]["reason"]
    else:
        assert "escalate" in answer or answer.get("reason") != request["reason"]
