"""Later, not now: Slack calls answered 429 wait in a queue, never in the thread that made them.

A reviewer's click is handled by a few threads (Bolt's listeners, the decision pool); one
sleeping through a ``Retry-After`` holds up every click behind it. So the bot's WebClient does
not retry 429s itself; what a card refresh or a private note got as 429 is handed to
:class:`RetryQueue`, whose one thread calls it again once Slack's wait is over. Calls with the
same key (a card's ``chat.update``) replace each other, so a retry never shows an older state
than one queued after it.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable, Hashable
from typing import Any

from slack_sdk.errors import SlackApiError, SlackClientError

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
DEFAULT_WAIT_S = 1.0


def retry_after(exc: BaseException) -> float | None:
    """Slack's wait for a 429 (``Retry-After``, seconds), or None for any other failure."""
    if not isinstance(exc, SlackApiError) or exc.response is None:
        return None
    if exc.response.status_code != 429:
        return None
    value = exc.response.headers.get("Retry-After") or exc.response.headers.get("retry-after")
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        return float(value) if value is not None else DEFAULT_WAIT_S
    except ValueError:
        return DEFAULT_WAIT_S


class RetryQueue:
    """One thread that re-runs rate-limited calls when they are due."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._cv = threading.Condition()
        self._heap: list[tuple[float, int, Hashable]] = []
        self._calls: dict[Hashable, tuple[Callable[[], Any], int, float]] = {}
        self._order = itertools.count()
        self._thread: threading.Thread | None = None
        self._closed = False

    def later(self, key: Hashable, call: Callable[[], Any], wait: float, *,
              attempt: int = 1) -> None:
        """Run ``call`` after ``wait`` seconds; a newer call with the same key replaces it."""
        with self._cv:
            if self._closed:
                return
            due = self._clock() + wait
            self._calls[key] = (call, attempt, due)
            heapq.heappush(self._heap, (due, next(self._order), key))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="signoff-slack-retry",
                                                daemon=True)
                self._thread.start()
            self._cv.notify()

    def cancel(self, key: Hashable) -> None:
        """Forget a queued call: a newer one with the same key went through directly."""
        with self._cv:
            self._calls.pop(key, None)

    @property
    def pending(self) -> int:
        with self._cv:
            return len(self._calls)

    def close(self) -> None:
        with self._cv:
            self._closed = True
            self._cv.notify()

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._closed and (not self._heap or self._heap[0][0] > self._clock()):
                    self._cv.wait(self._heap[0][0] - self._clock() if self._heap else None)
                if self._closed:
                    return
                due, _, key = heapq.heappop(self._heap)
                entry = self._calls.get(key)
                if entry is None or entry[2] != due:
                    continue  # cancelled, or replaced by a later call with its own time
                del self._calls[key]
            self._attempt(key, entry[0], entry[1])

    def _attempt(self, key: Hashable, call: Callable[[], Any], attempt: int) -> None:
        try:
            call()
        except (SlackApiError, SlackClientError, OSError) as exc:
            wait = retry_after(exc)
            if wait is not None and attempt < MAX_ATTEMPTS:
                self.later(key, call, wait, attempt=attempt + 1)
            else:
                log.warning("Slack call %s given up after %d attempts: %s", key, attempt, exc)
