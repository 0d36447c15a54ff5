"""The frameworks are extras: importing signoff pulls none in, and an adapter without its
framework says which extra to install."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).parents[2]


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, text=True,
                          capture_output=True, timeout=60)


def test_importing_signoff_loads_no_framework() -> None:
    out = _python("import sys, bot, bot.agent.aio, bot.integrations\n"
                  "print(sorted(m for m in sys.modules if m.split('.')[0] in "
                  "('langchain', 'langgraph', 'langchain_core')))")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_the_langchain_adapter_without_langchain_names_the_extra() -> None:
    out = _python("import sys\nsys.modules['langchain'] = None\n"
                  "import bot.integrations.langchain")
    assert out.returncode != 0
    assert 'pip install "signoff[langchain]"' in out.stderr
