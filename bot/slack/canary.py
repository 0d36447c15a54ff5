"""Settling a canary right after a reviewer decides it, with a private word to that reviewer.
(The sweep posts canaries' cards through :meth:`Surfaces.post_card`, like any request's.)"""

from __future__ import annotations

from bot.render.canary import render_canary_caught, render_canary_missed
from bot.slack.surfaces import Surfaces
from store.canaries import CATCH, MISS, CanaryStore
from store.models import DecisionKind, Ticket
from store.stats import CATCH_KINDS, MISS_KINDS


def settle_canary(surfaces: Surfaces, ticket: Ticket, user: str, kind: DecisionKind,
                  channel: str | None) -> Ticket:
    """After ``user``'s decision on a canary: record the catch or miss, close it, and tell
    ``user`` privately. A question settles nothing (the canary waits, then expires)."""
    if kind not in CATCH_KINDS | MISS_KINDS:
        return ticket
    caught = kind in CATCH_KINDS
    settled = CanaryStore(surfaces.ledger).settle_canary(
        ticket.id, reviewer=user, result=CATCH if caught else MISS)
    note = render_canary_caught(ticket) if caught else render_canary_missed(ticket)
    where = channel or (ticket.card.channel if ticket.card else None)
    if where is not None:
        surfaces.api.best_effort("chat_postEphemeral", ticket, channel=where, user=user,
                                 text=note["text"], blocks=note["blocks"])
    return settled
