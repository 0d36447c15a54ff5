"""Extra HTTP routes an embedding program adds to a sandbox: its own pages and files.

``SlackSandbox.add_route(method, path, handler)`` answers one exact path;
``SlackSandbox.mount_static(prefix, directory)`` serves a directory's files under a prefix.
Exact routes win over mounts, and a longer mount prefix over a shorter one. The sandbox's own
paths (``/api/``, ``/_sandbox/``, ``/actions/`` response URLs) are answered first and nothing
may be added under them, so an embedding program never changes what the app sees of Slack.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.sandbox.api_base import HttpReply

CONTENT_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css",
                 ".svg": "image/svg+xml", ".json": "application/json", ".txt": "text/plain"}
NOT_FOUND = HttpReply.json(404, {"ok": False, "error": "not_found"})


@dataclass(frozen=True)
class Request:
    """An HTTP request as an added route sees it (header names in lower case)."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes


Handler = Callable[[Request], HttpReply]


def file_reply(file: Path, headers: Mapping[str, str] | None = None) -> HttpReply:
    """A file's bytes with a content type from its suffix (404 when it is not a file)."""
    if not file.is_file():
        return NOT_FOUND
    kind = CONTENT_TYPES.get(file.suffix, "application/octet-stream")
    return HttpReply(200, file.read_bytes(), {"Content-Type": f"{kind}; charset=utf-8",
                                              **(headers or {})})


class Routes:
    def __init__(self, reserved: tuple[str, ...]) -> None:
        self._reserved = reserved
        self._exact: dict[tuple[str, str], Handler] = {}
        self._mounts: list[tuple[str, Path, str | None]] = []
        self._lock = threading.Lock()

    def add(self, method: str, path: str, handler: Handler) -> None:
        self._check(path)
        with self._lock:
            self._exact[(method.upper(), path)] = handler

    def mount(self, prefix: str, directory: Path, index: str | None) -> None:
        if not prefix.startswith("/") or not prefix.endswith("/"):
            raise ValueError(f"a mount prefix starts and ends with '/', not {prefix!r}")
        if not directory.is_dir():
            raise ValueError(f"{directory} is not a directory")
        self._check(prefix)
        with self._lock:
            mounts = [m for m in self._mounts if m[0] != prefix]
            mounts.append((prefix, directory.resolve(), index))
            self._mounts = sorted(mounts, key=lambda m: len(m[0]), reverse=True)

    def answer(self, request: Request) -> HttpReply | None:
        """The added route's reply, or None when no added route covers the request."""
        with self._lock:
            handler = self._exact.get((request.method.upper(), request.path))
            mounts = list(self._mounts)
        if handler is not None:
            return handler(request)
        if request.method.upper() != "GET":
            return None
        for prefix, directory, index in mounts:
            if request.path.startswith(prefix):
                return _served(directory, request.path[len(prefix):], index)
        return None

    def _check(self, path: str) -> None:
        if not path.startswith("/"):
            raise ValueError(f"a route path starts with '/', not {path!r}")
        for own in self._reserved:
            if path.startswith(own):
                raise ValueError(f"{path!r} is under the sandbox's own {own!r}")


def _served(directory: Path, name: str, index: str | None) -> HttpReply:
    """``directory/name`` when it lies inside ``directory``; ``index`` for the bare prefix."""
    if not name:
        if index is None:
            return NOT_FOUND
        name = index
    file = (directory / name).resolve()
    if directory not in file.parents:
        return NOT_FOUND
    return file_reply(file, {"Cache-Control": "no-store"})
