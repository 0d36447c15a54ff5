"""Exceptions: Slack API errors raised inside method handlers, and sandbox usage errors."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A Slack Web API error, answered as HTTP 200 ``{"ok": false, "error": ...}`` like Slack."""

    def __init__(self, error: str, messages: list[str] | None = None, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.messages = messages or []
        self.extra = extra

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error": self.error, **self.extra}
        if self.messages:
            body["response_metadata"] = {"messages": self.messages}
        return body


class RateLimited(Exception):
    """Answered as HTTP 429 with a ``Retry-After`` header, like Slack's rate limiter."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"rate limited, retry after {retry_after}s")
        self.retry_after = retry_after


class SandboxError(Exception):
    """The sandbox was asked to do something a Slack user could not do."""


class ElementNotFound(SandboxError, LookupError):
    """No visible element matched a click, selection or submission."""


class InvalidInput(SandboxError, ValueError):
    """A value a user could not have entered (e.g. an option that is not in the menu)."""
