"""Waiting by push: a long-polling agent sleeps on an event, woken when its ticket changes.

Changes committed in this process arrive through :func:`store.changes.listen`; on
PostgreSQL, changes committed by any replica (or by an embedded client, or the sweep)
arrive as ``NOTIFY`` on one ``LISTEN`` connection per replica. No waiter reads the
database in a loop: each reads the ticket once on arrival and once per wake-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy.engine import make_url

from store import changes

log = logging.getLogger(__name__)
RECONNECT_AFTER = 1.0


class WaitHub:
    """Per ticket id, the events of the requests waiting for it (one event loop)."""

    def __init__(self) -> None:
        self._waiting: dict[str, set[asyncio.Event]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_local: Any = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._stop_local = changes.listen(self.notify)

    def stop(self) -> None:
        if self._stop_local is not None:
            self._stop_local()
            self._stop_local = None
        self.wake_all()

    @property
    def waiting(self) -> int:
        return sum(len(v) for v in self._waiting.values())

    def notify(self, ticket_id: str) -> None:
        """Thread-safe: wake the waiters of ``ticket_id`` (if any)."""
        loop = self._loop
        if loop is not None and ticket_id in self._waiting and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake, ticket_id)

    def wake_all(self) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake_every)

    def _wake(self, ticket_id: str) -> None:
        for ev in self._waiting.get(ticket_id, ()):
            ev.set()

    def _wake_every(self) -> None:
        for events in self._waiting.values():
            for ev in events:
                ev.set()

    @contextlib.asynccontextmanager
    async def watching(self, ticket_id: str) -> AsyncIterator[asyncio.Event]:
        """Register before reading the ticket, so a change between the read and the wait
        still wakes us."""
        ev = asyncio.Event()
        self._waiting.setdefault(ticket_id, set()).add(ev)
        try:
            yield ev
        finally:
            group = self._waiting.get(ticket_id)
            if group is not None:
                group.discard(ev)
                if not group:
                    del self._waiting[ticket_id]


async def listen_postgres(url: str, hub: WaitHub) -> None:
    """Forward ``NOTIFY signoff_ticket`` to ``hub`` until cancelled; reconnects on loss
    (and then wakes every waiter, who re-read: a notice may have been missed)."""
    import psycopg

    conninfo = make_url(url).set(drivername="postgresql").render_as_string(
        hide_password=False)
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(conninfo,
                                                             autocommit=True) as conn:
                await conn.execute(f"LISTEN {changes.CHANNEL}")
                hub.wake_all()
                async for notice in conn.notifies():
                    hub.notify(notice.payload)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the connection dropped: say so, re-listen
            log.warning("LISTEN %s failed (%s); reconnecting", changes.CHANNEL, exc)
            hub.wake_all()
            await asyncio.sleep(RECONNECT_AFTER)
