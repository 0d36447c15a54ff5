"""Card refreshes after a decision, off the decision pool.

A decision's slot is for the database (read, authorise, ``record_decision``); the
``chat.update`` that shows the result to everyone is Slack's time, 6 to 25 ms a card, and a
decision worker waiting on it is a worker not deciding the next click. So the decision hands
the refreshed ticket here and returns. Refreshes of one ticket run one at a time and in
order, and a refresh still queued is replaced by a newer version of its ticket, so an older
render never lands after a newer one and a burst of decisions on one card costs one update.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Executor

from store.models import Ticket

log = logging.getLogger(__name__)


class Refresher:
    """Runs ``refresh(ticket)`` on ``pool``: per ticket in order, newest version wins."""

    def __init__(self, pool: Executor, refresh: Callable[[Ticket], object]) -> None:
        self.pool = pool
        self.refresh = refresh
        self._lock = threading.Lock()
        self._queued: dict[str, Ticket] = {}
        self._active: set[str] = set()

    def submit(self, ticket: Ticket) -> None:
        with self._lock:
            queued = self._queued.get(ticket.id)
            if queued is None or queued.version <= ticket.version:
                self._queued[ticket.id] = ticket
            if ticket.id in self._active:
                return  # the running job picks the newest version up when it is done
            self._active.add(ticket.id)
        try:
            self.pool.submit(self._drain, ticket.id)
        except RuntimeError:  # shutting down: refresh here rather than not at all
            self._drain(ticket.id)

    def _drain(self, ticket_id: str) -> None:
        while True:
            with self._lock:
                ticket = self._queued.pop(ticket_id, None)
                if ticket is None:
                    self._active.discard(ticket_id)
                    return
            try:
                self.refresh(ticket)
            except Exception:
                log.exception("refreshing the card of %s failed", ticket_id)
