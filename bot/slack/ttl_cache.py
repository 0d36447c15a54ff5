"""What Slack (or the ledger) said a moment ago, kept for a few seconds: the one short cache
behind user groups, delegations, deactivated accounts and time zones."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")


class TtlCache(Generic[V]):
    """Values by key, each for ``ttl`` seconds of ``clock`` from the instant it was read
    (``put``'s ``at``, taken before asking, so a slow answer is not kept longer). Thread-safe.
    Callers choose what to keep: failures are never put."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self.clock = ttl, clock
        self._items: dict[str, tuple[float, V]] = {}
        self._lock = threading.Lock()

    def get(self, key: str, now: float) -> V | None:
        """The value read for ``key`` less than ``ttl`` before ``now``, else None."""
        with self._lock:
            hit = self._items.get(key)
        return hit[1] if hit is not None and now - hit[0] < self.ttl else None

    def put(self, key: str, value: V, at: float) -> None:
        with self._lock:
            self._items[key] = (at, value)

    def forget(self, key: str | None = None) -> None:
        """Drop ``key`` (everything when None)."""
        with self._lock:
            if key is None:
                self._items.clear()
            else:
                self._items.pop(key, None)
