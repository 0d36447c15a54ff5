"""Acks before decisions: work taken after an ack yields to requests still waiting for theirs.

Slack retries a request whose ack is late, and reviewers feel every millisecond before the
button responds. In a burst of clicks, the decisions of the first clicks (database writes,
``chat.update``) would otherwise compete for the CPU with the acks of the later ones, and
in one Python process a thread cannot be given priority. So the HTTP front door counts the
requests it is serving (:meth:`AckFirst.serving`), and the decision pool
(:class:`AckFirstExecutor`) starts each job only once none are in flight, or after
``max_delay`` at the latest, so a steady stream of requests can never starve decisions.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

#: How long a decision may be held back behind acks, at most.
MAX_DELAY = 0.25
#: A gap between two requests of one burst is not yet quiet: wait this long for the next.
SETTLE = 0.002


class AckFirst:
    """How many requests the front door is serving; wait for none."""

    def __init__(self, *, max_delay: float = MAX_DELAY, settle: float = SETTLE) -> None:
        self.max_delay = max_delay
        self.settle = settle
        self._cv = threading.Condition()
        self._serving = 0
        self._changed = 0.0  # monotonic time of the last request's start or end

    @contextmanager
    def serving(self) -> Iterator[None]:
        with self._cv:
            self._serving += 1
            self._changed = time.monotonic()
        try:
            yield
        finally:
            with self._cv:
                self._serving -= 1
                self._changed = time.monotonic()
                self._cv.notify_all()

    @property
    def in_flight(self) -> int:
        return self._serving

    def wait_quiet(self, *, allow: int = 0) -> float:
        """Block until at most ``allow`` requests have been in flight for ``settle`` seconds,
        or until ``max_delay`` has passed. Returns the seconds waited."""
        began = time.monotonic()
        deadline = began + self.max_delay
        with self._cv:
            while (now := time.monotonic()) < deadline:
                if self._serving > allow:
                    self._cv.wait(deadline - now)
                    continue
                quiet = now - self._changed
                if quiet >= self.settle:
                    break
                self._cv.wait(min(self.settle - quiet, deadline - now))
        return time.monotonic() - began


class AckFirstExecutor(Executor):
    """An executor whose jobs start once :class:`AckFirst` says the front door is quiet."""

    def __init__(self, inner: Executor, acks: AckFirst) -> None:
        self.inner = inner
        self.acks = acks

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        # Jobs are submitted by a handler right after its ack, while its own request is still
        # in flight (Bolt's HTTP thread notices the ack a little later): that one may stay.
        def job() -> T:
            self.acks.wait_quiet(allow=1)
            return fn(*args, **kwargs)

        return self.inner.submit(job)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self.inner.shutdown(wait=wait, cancel_futures=cancel_futures)
