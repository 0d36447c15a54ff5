"""The ``signoff`` command as users run it: a real process on the oldest supported Python."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
OLDEST = (3, 11)  # pyproject.toml: requires-python = ">=3.11"


def _signoff(*args: str) -> list[str]:
    return [sys.executable, "-m", "bot.cli", *args]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_tests_run_on_the_oldest_supported_python() -> None:
    # argparse changed between 3.11 and 3.12; what users of 3.11 type must be tested on it.
    if sys.version_info[:2] != OLDEST:
        pytest.skip(f"run on Python {OLDEST[0]}.{OLDEST[1]} to cover the oldest supported one")
    assert sys.version_info[:2] == OLDEST


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_sandbox_help(flag: str) -> None:
    out = subprocess.run(_signoff("sandbox", flag), env=_env(), text=True,
                         capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "usage: signoff sandbox" in out.stdout
    assert "--port" in out.stdout and "--workspace" in out.stdout


def test_top_level_help_lists_the_sandbox() -> None:
    out = subprocess.run(_signoff("--help"), env=_env(), text=True, capture_output=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert "sandbox" in out.stdout and "serve" in out.stdout


def test_sandbox_listens_on_the_port_given() -> None:
    port = _free_port()
    proc = subprocess.Popen(_signoff("sandbox", "--port", str(port)), env=_env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert re.search(rf"Slack sandbox on http://127\.0\.0\.1:{port}\b", line), (
            line, proc.stderr.read() if proc.stderr else "")
        token = next(ln.split("=", 1)[1].strip() for ln in iter(proc.stdout.readline, "")
                     if "SLACK_BOT_TOKEN=" in ln)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/auth.test", data=b"",
            headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=5) as resp:
            assert json.loads(resp.read())["ok"] is True
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_sandbox_rejects_an_unknown_option_clearly() -> None:
    out = subprocess.run(_signoff("sandbox", "--prot", "1"), env=_env(), text=True,
                         capture_output=True, timeout=60)
    assert out.returncode == 2 and "--prot" in out.stderr
