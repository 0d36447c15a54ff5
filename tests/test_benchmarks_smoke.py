"""The benchmarks run end to end at --size tiny and report every scenario with figures.

The figures are not held to the targets here (CI machines vary); docs/benchmarks.md has the
published ones. PostgreSQL cases run when SIGNOFF_TEST_POSTGRES_URL is set.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.cli import SCENARIOS

REPO = Path(__file__).resolve().parents[1]
FIGURES = ("median", "p95", "p99")


@pytest.mark.slow
@pytest.mark.timeout(1300)
def test_tiny_run_reports_every_scenario(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    done = subprocess.run([sys.executable, "-m", "benchmarks", "--size", "tiny", "--json",
                           str(out)], cwd=REPO, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    doc = json.loads(out.read_text())
    assert doc["size"] == "tiny"
    assert set(doc["scenarios"]) == set(SCENARIOS)
    for name, scenario in doc["scenarios"].items():
        assert scenario["error"] is None, (name, scenario["error"])
        assert scenario["rows"], f"{name} reported no figures"
        for row in scenario["rows"]:
            for key in FIGURES:
                value = row[key]
                assert isinstance(value, int | float) and math.isfinite(value), (name, row)
            assert row["n"] >= 1
    assert "scenario" in done.stdout  # the table was printed
