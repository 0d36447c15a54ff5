"""The framework examples run as the README says (offline: the local Slack server, a model
that needs no key), so CI proves them: the search runs, the drop is refused, and the refund
runs with the amount the reviewer set, not the one the model asked for."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[3]


@pytest.mark.slow
@pytest.mark.parametrize("example", ["openai_agents_refund.py", "pydantic_ai_refund.py"])
def test_example_runs_offline_and_executes_the_reviewers_edit(example: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIGNOFF_", "SLACK_",
                                                                     "OPENAI_"))}
    env["PYTHONPATH"] = str(ROOT)
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "frameworks" / example)],
                         cwd=ROOT, env=env, text=True, capture_output=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert 'card in #payments: issue_refund {"amount": 120, "customer": "cus_42"}' in lines
    said = out.stdout.split("agent says:", 1)[1]
    assert "refunded 80 to cus_42" in said and "refunded 120" not in said
    assert "2 orders for cus_42" in said and "never from an agent" in said
    assert "dropped" not in said
