"""The demo's web page, served by the local Slack-compatible server itself.

The page and the sandbox's control endpoints (``/_sandbox/…``) share one origin, so every
click in the browser goes to ``POST /_sandbox/click`` and from there, signed, to the bot,
exactly as in the end-to-end tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bot.demo.config import PEOPLE, timing
from bot.sandbox import SlackSandbox
from bot.sandbox.api_base import HttpReply

STATIC = Path(__file__).with_name("static")
PAGE_PREFIX = "/demo/"
_KINDS = {".html": "text/html", ".js": "text/javascript", ".css": "text/css",
          ".svg": "image/svg+xml", ".json": "application/json"}


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

    def _route(self, verb: str, path: str, query: str, headers: Mapping[str, str],
               body: bytes) -> HttpReply:
        if verb == "GET" and (path in ("", "/") or path.startswith(PAGE_PREFIX)):
            return self._page(path)
        return super()._route(verb, path, query, headers, body)

    def _page(self, path: str) -> HttpReply:
        if path == PAGE_PREFIX + "info.json":
            return HttpReply.json(200, self.info)
        return static_file(path)


def static_file(path: str) -> HttpReply:
    name = "index.html" if path in ("", "/") else path.removeprefix(PAGE_PREFIX)
    file = (STATIC / name).resolve()
    if STATIC.resolve() not in file.parents or not file.is_file():
        return HttpReply.json(404, {"ok": False, "error": "not_found"})
    kind = _KINDS.get(file.suffix, "application/octet-stream")
    headers = {"Content-Type": f"{kind}; charset=utf-8", "Cache-Control": "no-store"}
    return HttpReply(200, file.read_bytes(), headers)
