"""What the escalation engine asks of Slack. The bot implements :class:`Notifier`.

Failure contract. ``escalate`` reports each target separately (one unreachable person must
not stop the others). ``remind`` and ``expired`` raise :class:`DeliveryError`. Mark a
failure ``retryable`` only when Slack certainly posted nothing (HTTP 429 ``ratelimited``,
a connection that never reached Slack, 5xx/``internal_error``/``fatal_error`` on a
non-``chat.*`` call): the engine retries those later, and a retry of something Slack did post
would be a second message. Permanent failures (``user_not_found``, ``channel_not_found``,
``not_in_channel``, ``account_inactive``…) are recorded and not retried.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from store.errors import DeliveryError
from store.models import SlackRef, Ticket

__all__ = ["DeliveryError", "DeliveryResult", "Notifier"]


@dataclass(frozen=True)
class DeliveryResult:
    """The outcome of one DM."""

    target: str
    ok: bool
    error: str | None = None
    retryable: bool = False
    retry_after: float | None = None
    """Seconds, from Slack's ``Retry-After`` header on a 429."""
    message: SlackRef | None = None
    """The DM posted (role ``dm``): kept with the ticket so the bot can update it later."""


class Notifier(Protocol):
    """Slack, as the engine sees it."""

    def resolve_group(self, group_id: str) -> Sequence[str]:
        """The members of a Slack user group (``usergroups.users.list``)."""
        ...

    def remind(self, ticket: Ticket, waited: timedelta) -> None:
        """Post a reminder in the card's thread: the request has waited ``waited``."""
        ...

    def escalate(self, ticket: Ticket, level: int, targets: Sequence[str], *,
                 retry: bool = False) -> Sequence[DeliveryResult]:
        """DM each target (``conversations.open`` + ``chat.postMessage``) the ticket's
        interactive card; unless ``retry``, also note in the card's thread that level
        ``level`` was called. ``targets`` are user ids, already authorised to decide."""
        ...

    def remind_batch(self, tickets: Sequence[Ticket], waited: Sequence[timedelta]) -> None:
        """One reminder in the thread of the batch card these tickets share, for all of them
        (``waited[i]`` is how long ``tickets[i]`` has waited). Members decided meanwhile are
        not counted as waiting. Raises like :meth:`remind`."""
        ...

    def escalate_batch(self, tickets: Sequence[Ticket], level: int,
                       targets: Sequence[Sequence[str]]) -> Sequence[Sequence[DeliveryResult]]:
        """:meth:`escalate` (not a retry) for each of these members of one batch card at
        level ``level``, ``targets[i]`` for ``tickets[i]``, with one note in the card's thread
        for all of them instead of one each; the results in the same order."""
        ...

    def expired(self, ticket: Ticket) -> None:
        """Show the card as "expired — nobody decided in time; nothing was executed" and tell
        the requester."""
        ...

    def refresh(self, ticket: Ticket) -> bool:
        """Re-render the ticket's card and DM copies as the ledger has them now (their shown
        version fell behind); True when every one of them now shows it."""
    def outcome_unknown(self, ticket: Ticket) -> None:
        """Say on the card and in its thread that the execution never reported back, will
        not run again, and needs a human to resolve it."""
        ...
