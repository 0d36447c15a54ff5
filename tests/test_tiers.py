"""Every test carries exactly one tier marker, set by folder (see tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests.conftest import TESTS, TIERS, tier


def fake(path: str, *fixtures: str) -> Any:
    return SimpleNamespace(path=TESTS / path, fixturenames=list(fixtures))


def test_this_test_is_marked_unit(request: pytest.FixtureRequest) -> None:
    marks = [t for t in TIERS if request.node.get_closest_marker(t)]
    assert marks == ["unit"]


@pytest.mark.parametrize(("path", "fixtures", "expected"), [
    ("render/test_render_card.py", (), "unit"),
    ("escalation/test_engine.py", ("ledger",), "integration"),
    ("store/test_tickets.py", (), "integration"),
    ("e2e/test_reviews.py", ("rig",), "e2e"),
    ("demo/test_demo_page.py", ("page",), "browser"),
])
def test_tiers_follow_the_folder(path: str, fixtures: tuple[str, ...], expected: str) -> None:
    assert tier(fake(path, *fixtures)) == expected
    assert Path(TESTS / path).exists()
