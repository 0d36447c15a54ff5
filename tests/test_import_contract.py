"""The layering the architecture promises, read from the code's own imports (``TYPE_CHECKING``
ones too): the ledger imports nothing of ours, the escalation engine never touches the bot,
rendering and the local Slack server stand alone, and only the demo and the CLI start the
local Slack server."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
OURS = ("bot", "store", "escalation")


def modules(package: str) -> Iterator[tuple[str, Path]]:
    for path in sorted((ROOT / package).rglob("*.py")):
        if "migrations" in path.parts:
            continue
        yield ".".join(path.relative_to(ROOT).with_suffix("").parts), path


def imports(path: Path) -> set[str]:
    """Every module of ours that ``path`` imports, wherever the import stands."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name.split(".")[0] in OURS}


def within(name: str, *prefixes: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def breaches(package: str, allowed: tuple[str, ...]) -> list[str]:
    return [f"{module} imports {name}" for module, path in modules(package)
            for name in sorted(imports(path)) if not within(name, *allowed)]


@pytest.mark.parametrize(("package", "allowed"), [
    ("store", ("store",)),
    ("escalation", ("escalation", "store")),
    ("bot/render", ("bot.render", "store.models")),
    ("bot/sandbox", ("bot.sandbox",)),
])
def test_each_layer_imports_only_what_it_may(package: str, allowed: tuple[str, ...]) -> None:
    assert breaches(package, allowed) == []


def test_only_the_demo_and_the_cli_start_the_local_slack_server() -> None:
    importers = {module for module, path in modules("bot")
                 if not within(module, "bot.sandbox")
                 and any(within(name, "bot.sandbox") for name in imports(path))}
    assert importers
    assert {m for m in importers if not within(m, "bot.demo", "bot.cli", "bot.commands")} == set()


def test_the_check_reads_imports_wherever_they_stand(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                      "    from bot.slack import app\n\ndef f():\n    import escalation.engine\n")
    assert imports(sample) == {"bot.slack", "bot.slack.app", "escalation.engine"}
