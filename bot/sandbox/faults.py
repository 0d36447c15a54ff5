"""Fault injection and chat.postMessage's per-channel rate limit.

Faults let tests see how an app copes with Slack misbehaving: the next N calls of a method fail
with a Slack error, an HTTP status, a 429 with ``Retry-After``, or arrive late.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass

from bot.sandbox.clock import Clock


@dataclass
class Fault:
    """What happens to the next ``times`` calls of ``method`` (``"*"`` matches every method).

    Exactly one of ``error`` (Slack error, HTTP 200), ``status`` (bare HTTP status) or
    ``retry_after`` (HTTP 429 + Retry-After) may be set; ``delay`` (seconds, real time) can be
    combined with any of them or used alone, in which case the call then succeeds normally.
    """

    method: str
    times: int = 1
    error: str | None = None
    status: int | None = None
    retry_after: int | None = None
    delay: float = 0.0

    def __post_init__(self) -> None:
        outcomes = [x for x in (self.error, self.status, self.retry_after) if x is not None]
        if len(outcomes) > 1:
            raise ValueError("a fault is an error, an HTTP status or a 429, not several")
        if self.times < 1 or self.delay < 0:
            raise ValueError("times must be at least 1 and delay not negative")

    @property
    def passes_through(self) -> bool:
        """True for a pure delay: the call still runs afterwards."""
        return self.error is None and self.status is None and self.retry_after is None


class FaultInjector:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def take(self, method: str) -> Fault | None:
        """Consume one use of the first fault matching ``method``, in the order they were added."""
        with self._lock:
            for fault in self._faults:
                if fault.method in (method, "*"):
                    fault.times -= 1
                    if fault.times == 0:
                        self._faults.remove(fault)
                    return fault
            return None


class RateLimiter:
    """At most ``limit`` posts per channel in any ``window`` seconds (off when ``limit`` is None).

    Slack allows about one message per second per channel, with short bursts.
    """

    def __init__(self, clock: Clock, limit: int | None = None, window: float = 1.0) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._posts: dict[str, deque[float]] = {}
        self.configure(limit, window)

    def configure(self, limit: int | None, window: float = 1.0) -> None:
        if limit is not None and (limit < 1 or window <= 0):
            raise ValueError("limit must be at least 1 and window positive")
        with self._lock:
            self.limit, self.window = limit, window
            self._posts.clear()

    def retry_after(self, channel: str) -> int | None:
        """Record a post, or return the whole seconds to wait (never 0) if it is over the limit."""
        with self._lock:
            if self.limit is None:
                return None
            now = self._clock()
            posts = self._posts.setdefault(channel, deque())
            while posts and now - posts[0] >= self.window:
                posts.popleft()
            if len(posts) >= self.limit:
                return max(1, math.ceil(self.window - (now - posts[0])))
            posts.append(now)
            return None


#: Slack's rate-limit tiers (calls per minute, per method, per workspace; short bursts are
#: tolerated) and the tier of each method the sandbox serves, from Slack's method docs.
#: chat.postMessage is "special": about one message per second per channel (RateLimiter).
TIER_LIMITS = {1: 1, 2: 20, 3: 50, 4: 100}
METHOD_TIERS = {
    "usergroups.users.list": 2,
    "chat.update": 3, "chat.delete": 3, "conversations.open": 3, "conversations.info": 3,
    "conversations.history": 3, "conversations.replies": 3, "conversations.join": 3,
    "users.lookupByEmail": 3,
    "chat.postEphemeral": 4, "views.open": 4, "views.push": 4, "views.update": 4,
    "views.publish": 4, "users.info": 4, "chat.getPermalink": 4,
}


class TierLimiter:
    """Per-method limits by Slack's tiers over a sliding ``window`` (60 s, like Slack's
    per-minute limits; shorter to test quickly). Off until :meth:`configure` turns it on."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._calls: dict[str, deque[float]] = {}
        self.enabled, self.window = False, 60.0

    def configure(self, enabled: bool, window: float = 60.0) -> None:
        if window <= 0:
            raise ValueError("window must be positive")
        with self._lock:
            self.enabled, self.window = enabled, window
            self._calls.clear()

    def retry_after(self, method: str) -> int | None:
        """Record a call, or return the whole seconds to wait when its tier is used up."""
        tier = METHOD_TIERS.get(method)
        with self._lock:
            if not self.enabled or tier is None:
                return None
            now = self._clock()
            calls = self._calls.setdefault(method, deque())
            while calls and now - calls[0] >= self.window:
                calls.popleft()
            if len(calls) >= TIER_LIMITS[tier]:
                return max(1, math.ceil(self.window - (now - calls[0])))
            calls.append(now)
            return None
