"""Group commit for the click inbox: clicks that arrive together share one transaction.

Every decision click is written before its ack, so in a burst the acks would queue behind
one small transaction each (SQLite has a single writer; PostgreSQL pays a commit per
click). A writer thread takes every click waiting when it starts a transaction and writes
them with one statement: while one batch commits, the next one gathers. A lone click goes
straight through, with no added wait. SQLite gets one writer (it has one write lock);
PostgreSQL a few, whose commits overlap.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future

from store.inbox import Click, NewClick

log = logging.getLogger(__name__)

#: At most this many clicks per transaction.
MAX_BATCH = 100

Write = Callable[[Sequence[NewClick]], list[Click]]
_Item = tuple[NewClick, "Future[Click]"]


class ClickWriter:
    def __init__(self, write: Write, *, writers: int = 1, max_batch: int = MAX_BATCH) -> None:
        self._write = write
        self._writers = writers
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def write(self, new: NewClick, *, timeout: float) -> Click:
        """Write one click; raises what the write raised, or ``TimeoutError``."""
        future: Future[Click] = Future()
        self._start()
        self._queue.put((new, future))
        return future.result(timeout)

    def _start(self) -> None:
        with self._lock:
            if not self._threads:
                self._threads = [threading.Thread(target=self._run, daemon=True,
                                                  name=f"signoff-click-writer-{i}")
                                 for i in range(self._writers)]
                for thread in self._threads:
                    thread.start()

    def _run(self) -> None:
        while (first := self._queue.get()) is not None:
            batch = [first]
            stop = False
            while len(batch) < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            self._flush(batch)
            if stop:
                return

    def _flush(self, batch: list[_Item]) -> None:
        try:
            clicks = self._write([new for new, _ in batch])
        except BaseException as exc:  # every waiting handler gets the failure
            for _, future in batch:
                future.set_exception(exc)
            return
        for (_, future), click in zip(batch, clicks, strict=True):
            future.set_result(click)

    def close(self) -> None:
        with self._lock:
            for _ in self._threads:
                self._queue.put(None)
            for thread in self._threads:
                thread.join(timeout=5)
            self._threads = []
