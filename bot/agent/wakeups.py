"""Wake-ups for the embedded client's ``wait()``: woken when the ticket changes, instead of
reading the database in a loop.

Commits made in this process arrive through :func:`store.changes.listen`. On PostgreSQL,
commits made anywhere (``signoff serve`` deciding a click, another replica, the sweep) arrive
as ``NOTIFY`` on one ``LISTEN`` connection, held by a daemon thread from the first wait on.
SQLite has no notices between processes, so a wait there still reads the ticket on a timer;
while the ``LISTEN`` connection is up, the timer is only a safety net.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import URL

from store import changes

log = logging.getLogger(__name__)
#: After losing the LISTEN connection, try again this much later (meanwhile: polling).
RECONNECT_AFTER = 1.0
#: How long one read of notices blocks, so that ``close()`` is noticed.
NOTICE_WAIT = 0.5


class Wakeups:
    """Per ticket id, the events of the threads waiting for it."""

    def __init__(self, url: URL) -> None:
        self._url = url
        self._lock = threading.Lock()
        self._waiting: dict[str, set[threading.Event]] = {}
        self._listening = threading.Event()
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        self._stop_local = changes.listen(self._notify)

    @property
    def pushed(self) -> bool:
        """Whether every replica's changes reach this process now (PostgreSQL, connected)."""
        return self._listening.is_set()

    @contextmanager
    def watching(self, ticket_id: str) -> Iterator[threading.Event]:
        """An event set when ``ticket_id`` changes. Register before reading the ticket, so a
        change between the read and the wait still wakes the waiter."""
        self._start()
        event = threading.Event()
        with self._lock:
            self._waiting.setdefault(ticket_id, set()).add(event)
        try:
            yield event
        finally:
            with self._lock:
                group = self._waiting.get(ticket_id)
                if group is not None:
                    group.discard(event)
                    if not group:
                        del self._waiting[ticket_id]

    def close(self) -> None:
        self._stop_local()
        self._closed.set()
        if self._thread is not None:
            self._thread.join(timeout=2 * NOTICE_WAIT + 1)

    def _notify(self, ticket_id: str) -> None:
        with self._lock:
            for event in self._waiting.get(ticket_id, ()):
                event.set()

    def _wake_all(self) -> None:
        with self._lock:
            for group in self._waiting.values():
                for event in group:
                    event.set()

    def _start(self) -> None:
        if self._url.get_backend_name() != "postgresql" or self._thread is not None:
            return
        with self._lock:
            if self._thread is None and not self._closed.is_set():
                self._thread = threading.Thread(target=self._listen, daemon=True,
                                                name="signoff-wakeups")
                self._thread.start()

    def _listen(self) -> None:
        import psycopg

        conninfo = self._url.set(drivername="postgresql").render_as_string(
            hide_password=False)
        while not self._closed.is_set():
            try:
                with psycopg.connect(conninfo, autocommit=True) as conn:
                    conn.execute(f"LISTEN {changes.CHANNEL}")
                    self._listening.set()
                    self._wake_all()  # a change may have come before the LISTEN
                    while not self._closed.is_set():
                        for notice in conn.notifies(timeout=NOTICE_WAIT):
                            self._notify(notice.payload)
            except Exception as exc:  # the connection failed: poll until it is back
                log.warning("LISTEN %s failed (%s); polling meanwhile", changes.CHANNEL, exc)
            self._listening.clear()
            self._wake_all()
            self._closed.wait(RECONNECT_AFTER)
