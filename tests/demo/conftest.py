"""Browser tests of ``signoff demo``: a real Chromium driven by Playwright, against the real
demo (local Slack server, bot, database, agent). Each test gets a fresh demo in fast mode.

Playwright is only the driver: the browser is Debian's Chromium (``apt-get install
chromium``); ``playwright install`` is never needed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.demo.config import PAYMENTS
from bot.demo.runner import Demo, DemoOptions

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
SCREENSHOTS_ENV = "SIGNOFF_SCREENSHOT_DIR"
Shot = Callable[[str], Path]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Chromium per test module. Not per session: Playwright's sync API keeps an event
    loop running in this thread while it is open, and tests elsewhere that run their own
    loop (asyncio.run, the MCP client) must not find it."""
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need Chromium at {CHROMIUM} (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="browser tests need playwright (pip install -e .[dev])")
    with sync_api.sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    wanted = os.environ.get(SCREENSHOTS_ENV)
    folder = Path(wanted) if wanted else tmp_path_factory.getbasetemp() / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def agent_cards(sandbox: Any, channel: str) -> list[Any]:
    """The agent's own cards in ``channel`` (the demo's canary is a test request, not one)."""
    return [m for m in sandbox.messages(channel) if "cus_zed" not in m.text]


@pytest.fixture
def demo() -> Iterator[Demo]:
    with Demo(DemoOptions(port=0, fast=True, say=lambda _line: None)) as running:
        sandbox = running.sandbox
        assert sandbox is not None
        sandbox.wait_until(lambda: len(agent_cards(sandbox, PAYMENTS)) >= 2, timeout=10)
        yield running


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda err: errors.append(str(err)))
    yield tab
    context.close()
    assert not errors, f"the page raised: {errors}"


@pytest.fixture
def shot(page: Any, screenshot_dir: Path, request: pytest.FixtureRequest) -> Shot:
    """Save a screenshot of the page for this test's step; returns its path."""
    test = re.sub(r"\W+", "_", request.node.name)
    count = 0

    def take(step: str) -> Path:
        nonlocal count
        count += 1
        path = screenshot_dir / f"{test}-{count:02d}-{step}.png"
        page.screenshot(path=str(path))
        return path

    return take
