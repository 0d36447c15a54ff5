"""Group commit for the click inbox: clicks that arrive together share one transaction.

Every decision click is written before its ack, so in a burst the acks would queue behind
one small transaction each (SQLite has a single writer; PostgreSQL pays a commit, and a
flush of its log, per click). Here the handler threads themselves take turns as the writer
(leader and followers, no extra thread to hand over to): a handler that finds a writer's
place free writes every click waiting, its own included, in one statement; the others wait
for it, and while one batch commits the next one gathers. A lone click goes straight
through. SQLite gets one writer at a time (it has one write lock); PostgreSQL a few, whose
commits overlap.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from store.errors import StoreUnavailable
from store.inbox import Click, NewClick

#: At most this many clicks per transaction.
MAX_BATCH = 100

Write = Callable[[Sequence[NewClick]], list[Click]]


@dataclass
class _Pending:
    new: NewClick
    done: bool = False
    click: Click | None = None
    error: BaseException | None = None


class ClickWriter:
    def __init__(self, write: Write, *, writers: int = 1, max_batch: int = MAX_BATCH) -> None:
        self._write = write
        self._writers = writers
        self._max_batch = max_batch
        self._cv = threading.Condition()
        self._queue: list[_Pending] = []
        self._active = 0

    def write(self, new: NewClick, *, timeout: float) -> Click:
        """Write one click, alone or with others waiting. Raises what the write raised;
        ``StoreUnavailable`` when no writer took the click within ``timeout`` (then it was
        not written); ``TimeoutError`` when its batch is still being written (it may be)."""
        item = _Pending(new)
        deadline = time.monotonic() + timeout
        with self._cv:
            self._queue.append(item)
            while not item.done:
                if self._queue and self._active < self._writers:
                    self._lead()
                    continue
                left = deadline - time.monotonic()
                if left <= 0:
                    return self._give_up(item)
                self._cv.wait(left)
        if item.error is not None:
            raise item.error
        assert item.click is not None
        return item.click

    def _lead(self) -> None:
        """Write the oldest waiting clicks (called holding the lock; released meanwhile)."""
        batch = self._queue[:self._max_batch]
        del self._queue[:len(batch)]
        self._active += 1
        self._cv.release()
        try:
            self._flush(batch)
        finally:
            self._cv.acquire()
            self._active -= 1
            self._cv.notify_all()

    def _flush(self, batch: list[_Pending]) -> None:
        try:
            clicks = self._write([p.new for p in batch])
        except BaseException as exc:  # every click of the batch gets the failure
            for pending in batch:
                pending.error, pending.done = exc, True
            return
        for pending, click in zip(batch, clicks, strict=True):
            pending.click, pending.done = click, True

    def _give_up(self, item: _Pending) -> Click:
        if item in self._queue:
            self._queue.remove(item)
            raise StoreUnavailable("the database took no clicks in time")
        raise TimeoutError("the click's batch is still being written")

    def close(self) -> None:
        """Nothing to stop: writes happen on the handlers' own threads."""
