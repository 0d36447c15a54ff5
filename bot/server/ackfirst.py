"""Acks before decisions: work taken after an ack yields to the requests that were already
waiting for theirs.

Slack retries a request whose ack is late, and reviewers feel every millisecond before the
button responds. In a burst of clicks, the decisions of the first clicks (database writes,
``chat.update``) would otherwise compete for the CPU with the acks of the later ones, and
in one Python process a thread cannot be given priority. So the front door numbers the
requests it receives (:meth:`AckFirst.arrive`, from the moment the HTTP server queues them
for a thread), and the decision pool (:class:`AckFirstExecutor`) starts a job only once
every request received before the job was submitted has been answered (its own request
included: its handler returns right after the ack, and the answer should leave before the
decision competes with it for the CPU), or after ``max_delay`` at the latest.

Requests received after the job do not hold it back: under a steady stream of clicks a
decision waits for the acks ahead of it, a few milliseconds, not for a quiet moment that
may never come (waiting for quiet held decisions up to the cap at 8-16 agents).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from contextlib import contextmanager
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

#: How long a decision may be held back behind acks, at most.
MAX_DELAY = 0.25


@dataclass(frozen=True)
class Horizon:
    """The requests a job yields to: those numbered below ``before``."""

    before: int


class AckFirst:
    """The requests the front door has received and not yet answered; wait for some."""

    def __init__(self, *, max_delay: float = MAX_DELAY) -> None:
        self.max_delay = max_delay
        self._cv = threading.Condition()
        self._received = 0
        self._open: set[int] = set()
        self._local = threading.local()

    def arrive(self) -> int:
        """Number a request received; :meth:`answered` must follow (or :meth:`serving`)."""
        with self._cv:
            seq = self._received
            self._received += 1
            self._open.add(seq)
            return seq

    def answered(self, seq: int) -> None:
        with self._cv:
            self._open.discard(seq)
            self._cv.notify_all()

    @contextmanager
    def serving(self, seq: int | None = None) -> Iterator[None]:
        """This thread serves request ``seq`` (numbered now when None) until the block ends.
        Nested in a request this thread already serves, it changes nothing."""
        if getattr(self._local, "seq", None) is not None:
            yield
            return
        self._local.seq = self.arrive() if seq is None else seq
        try:
            yield
        finally:
            seq, self._local.seq = self._local.seq, None
            self.answered(seq)

    @property
    def in_flight(self) -> int:
        return len(self._open)

    def horizon(self) -> Horizon:
        """What a job submitted now yields to."""
        with self._cv:
            return Horizon(self._received)

    def wait_for(self, horizon: Horizon) -> float:
        """Block until every request of ``horizon`` is answered, or ``max_delay`` has
        passed. Returns the seconds waited."""
        began = time.monotonic()
        deadline = began + self.max_delay
        with self._cv:
            while (now := time.monotonic()) < deadline and self._ahead(horizon):
                self._cv.wait(deadline - now)
        return time.monotonic() - began

    def _ahead(self, horizon: Horizon) -> bool:
        return any(seq < horizon.before for seq in self._open)


class AckFirstExecutor(Executor):
    """An executor whose jobs start once the requests received before them are answered."""

    def __init__(self, inner: Executor, acks: AckFirst) -> None:
        self.inner = inner
        self.acks = acks

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        horizon = self.acks.horizon()

        def job() -> T:
            self.acks.wait_for(horizon)
            return fn(*args, **kwargs)

        return self.inner.submit(job)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self.inner.shutdown(wait=wait, cancel_futures=cancel_futures)
