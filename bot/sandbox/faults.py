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
