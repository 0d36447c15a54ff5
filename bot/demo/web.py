"""The demo's web page, served by the local Slack-compatible server itself.

The page and the sandbox's control endpoints (``/_sandbox/…``) share one origin, so every
click in the browser goes to ``POST /_sandbox/click`` and from there, signed, to the bot,
exactly as in the end-to-end tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.demo.config import PEOPLE, timing
from bot.sandbox import HttpReply, SlackSandbox, file_reply

STATIC = Path(__file__).with_name("static")
PAGE_PREFIX = "/demo/"


def page_info(fast: bool) -> dict[str, Any]:
    """What the page shows besides the workspace: the cast, and whether the chain is fast."""
    return {
        "people": [{"id": p.id, "name": p.real_name, "role": p.role} for p in PEOPLE],
        "fast": fast,
        "first_dm": timing(fast).first,
        "second_dm": timing(fast).second_at,
        "expiry": timing(fast).expires_in,
    }


class DemoSandbox(SlackSandbox):
    """A sandbox that also serves the demo page at ``/`` and its files under ``/demo/``."""

    def __init__(self, *args: Any, fast: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.info = page_info(fast)
        page = {"Cache-Control": "no-store"}
        self.add_route("GET", "/", lambda _request: file_reply(STATIC / "index.html", page))
        self.add_route("GET", PAGE_PREFIX + "info.json",
                       lambda _request: HttpReply.json(200, self.info, page))
        self.mount_static(PAGE_PREFIX, STATIC, index=None)
