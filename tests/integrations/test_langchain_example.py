"""examples/langchain_agent.py runs as the README says, offline: the agent pauses on the
refund, the reviewer's edit reaches the tool, the search runs without a pause."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).parents[2]


def test_the_langchain_example_runs_the_reviewers_edit() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIGNOFF_", "SLACK_"))}
    out = subprocess.run([sys.executable, "examples/langchain_agent.py"], cwd=REPO, env=env,
                         text=True, capture_output=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "paused for review: issue_refund({'amount': 120, 'customer': 'cus_42'})"
    assert "tool search_orders: cus_42: order ord_7 charged twice (120 EUR)" in lines
    assert "tool issue_refund: refunded 80 to cus_42" in lines
    assert lines[-1] == "agent: Done: the double charge on ord_7 is refunded."
