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

Requests received after the job hold it back for ``QUIET_GRACE`` at most: the late part of a
burst (clicks still arriving while the first are decided) is acked before decisions take
the CPU, while under a steady stream of clicks, where a quiet moment may not come, a
decision waits for the acks ahead of it and at most the grace beyond them (waiting for
quiet up to the cap held decisions 137 ms at p99 at 16 agents). A waiting job waits in the
executor, not on a worker thread.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import CancelledError, Executor, Future
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

#: How long a decision may be held back behind acks, at most.
MAX_DELAY = 0.25
#: How long a decision also yields to requests received after it, when the door is busy:
#: the rest of a burst of clicks is acked first, while under a steady stream of clicks a
#: decision waits this long at most for a quiet moment.
QUIET_GRACE = 0.1


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

    def _ahead(self, horizon: Horizon) -> bool:
        return any(seq < horizon.before for seq in self._open)


class AckFirstExecutor(Executor):
    """An executor whose jobs start once the requests received before them are answered.

    A job that has to wait is held here, not on one of ``inner``'s threads: a worker
    sleeping through acks would be a decision slot nobody uses (on SQLite there are two).
    Held jobs are handed to ``inner`` in the order they were submitted; since horizons and
    deadlines only grow, the first held job is always the first one that may start.
    """

    def __init__(self, inner: Executor, acks: AckFirst) -> None:
        self.inner = inner
        self.acks = acks
        self._held: deque[_Held] = deque()
        self._closed = False
        self._dispatcher: threading.Thread | None = None

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        with self.acks._cv:  # reentrant: horizon() takes it too
            horizon = self.acks.horizon()
            if self._closed or (not self._held and not self.acks._open):
                return self.inner.submit(fn, *args, **kwargs)  # the door is quiet: start now
            future: Future[T] = Future()
            now = time.monotonic()
            deadline = now + self.acks.max_delay
            self._held.append(_Held(horizon, min(now + QUIET_GRACE, deadline), deadline,
                                    lambda: fn(*args, **kwargs), future))
            self._start_dispatcher()
            self.acks._cv.notify_all()
            return future

    def _start_dispatcher(self) -> None:
        if self._dispatcher is None:
            self._dispatcher = threading.Thread(target=self._dispatch, daemon=True,
                                                name="signoff-ackfirst")
            self._dispatcher.start()

    def _dispatch(self) -> None:
        # Hand-overs happen under the condition (``inner.submit`` only queues), so a job
        # submitted later can never reach ``inner`` before one released earlier.
        with self.acks._cv:
            while True:
                for held in self._ready():
                    self._hand_over(held)
                if self._closed and not self._held:
                    return
                self.acks._cv.wait(self._timeout())

    def _ready(self) -> list[_Held]:
        """Pop the held jobs that may start now (the caller holds the condition)."""
        now, out = time.monotonic(), []
        while self._held and (self._closed or self._may_start(self._held[0], now)):
            out.append(self._held.popleft())
        return out

    def _may_start(self, held: _Held, now: float) -> bool:
        if now >= held.deadline:
            return True
        if self.acks._ahead(held.horizon):
            return False
        return not self.acks._open or now >= held.quiet_by

    def _timeout(self) -> float | None:
        if not self._held:
            return None
        front, now = self._held[0], time.monotonic()
        wake = front.quiet_by if now < front.quiet_by else front.deadline
        return max(0.0, wake - now)

    def _hand_over(self, held: _Held) -> None:
        if not held.future.set_running_or_notify_cancel():
            return
        try:
            inner = self.inner.submit(held.run)
        except RuntimeError as exc:  # inner already shut down
            held.future.set_exception(exc)
            return
        inner.add_done_callback(lambda done: _copy(done, held.future))

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Held jobs start at once (a recorded click is never dropped), then ``inner`` drains."""
        with self.acks._cv:
            self._closed = True
            self.acks._cv.notify_all()
            dispatcher = self._dispatcher
        if dispatcher is not None:
            dispatcher.join(timeout=30)
        self.inner.shutdown(wait=wait, cancel_futures=cancel_futures)


@dataclass(frozen=True)
class _Held:
    horizon: Horizon
    quiet_by: float
    """Until then, the job also waits for requests received after it (the rest of a burst)."""
    deadline: float
    run: Callable[[], Any]
    future: Future[Any]


def _copy(source: Future[Any], target: Future[Any]) -> None:
    if source.cancelled():  # inner shut down with cancel_futures
        target.set_exception(CancelledError())
        return
    exc = source.exception()
    if exc is not None:
        target.set_exception(exc)
    else:
        target.set_result(source.result())
