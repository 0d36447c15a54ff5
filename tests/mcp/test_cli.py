"""``signoff mcp-proxy`` refuses to start without upstreams or without the person the MCP
client acts for, and says what to add."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from tests.e2e.conftest import EXAMPLE


def test_no_upstreams_and_no_requester_are_clear_errors(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SIGNOFF_MCP_REQUESTED_BY", raising=False)
    monkeypatch.setenv("SIGNOFF_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    plain = tmp_path / "plain.yml"
    plain.write_text(EXAMPLE.read_text())
    assert main(["mcp-proxy", "--config", str(plain)]) == 1
    assert "mcp.upstreams is empty" in capsys.readouterr().err
    fronted = tmp_path / "fronted.yml"
    fronted.write_text(EXAMPLE.read_text() + "\nmcp:\n  upstreams:\n    x: {command: x}\n")
    assert main(["mcp-proxy", "--config", str(fronted)]) == 1
    err = capsys.readouterr().err
    assert "--requested-by" in err and "SIGNOFF_MCP_REQUESTED_BY" in err
