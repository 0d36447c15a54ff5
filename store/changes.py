"""Ticket change notices: who waits for a ticket hears at once when its status changes.

Every status change goes through :func:`store.transition.transition`, which calls
:func:`changed`. On PostgreSQL that issues ``pg_notify`` in the changing transaction, so
PostgreSQL delivers the notice to every replica that LISTENs, at commit and only if it
commits. In every database the session remembers the id, and after the commit the
listeners of this process are called (SQLite has no notices between processes).
Separately, :func:`listen_deliveries` hears of commits that queued a webhook delivery, so
the sender wakes for those and not for every change of every ticket.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from sqlalchemy import event, text
from sqlalchemy.orm import Session

from store import webhooks

CHANNEL = "signoff_ticket"
_KEY = "signoff_changed"
_QUEUED = "signoff_webhook_queued"
_NOTIFY = text("SELECT pg_notify(:channel, :id)")

Listener = Callable[[str], None]
_listeners: list[Listener] = []
_delivery_listeners: list[Listener] = []
_lock = threading.Lock()


def listen(listener: Listener) -> Callable[[], None]:
    """Call ``listener(ticket_id)`` after each committed change in this process."""
    return _add(_listeners, listener)


def listen_deliveries(listener: Listener) -> Callable[[], None]:
    """Call ``listener(ticket_id)`` after each commit in this process that queued a webhook
    delivery for the ticket (most changes queue none: their agent has no webhook)."""
    return _add(_delivery_listeners, listener)


def _add(registry: list[Listener], listener: Listener) -> Callable[[], None]:
    with _lock:
        registry.append(listener)

    def stop() -> None:
        with _lock:
            if listener in registry:
                registry.remove(listener)

    return stop


def changed(s: Session, ticket_id: str) -> None:
    """Announce, at commit, that ``ticket_id`` changed status; queue its agent's webhook."""
    if webhooks.enqueue(s, ticket_id):
        s.info.setdefault(_QUEUED, set()).add(ticket_id)
    s.info.setdefault(_KEY, set()).add(ticket_id)
    if s.get_bind().dialect.name == "postgresql":
        s.execute(_NOTIFY, {"channel": CHANNEL, "id": ticket_id})


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    _tell(_listeners, session.info.pop(_KEY, None))
    _tell(_delivery_listeners, session.info.pop(_QUEUED, None))


def _tell(registry: list[Listener], ids: set[str] | None) -> None:
    if not ids:
        return
    with _lock:
        listeners = list(registry)
    for ticket_id in ids:
        for listener in listeners:
            listener(ticket_id)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_KEY, None)
    session.info.pop(_QUEUED, None)
