"""What the escalation engine needs from the store: claims, step records, retries, the
database's clock. :class:`store.sweep.SweepStore` implements it on the ledger's database."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from store.models import Ticket
from store.steps import Delivery, EscalationStep, Recorded, Refused, StepPlan


class SweepLedger(Protocol):
    def db_now(self) -> datetime:
        """The database's clock (the one that judges deadlines)."""

    def seal_audit(self) -> list[int]:
        """Seal committed audit events into the global chain (one sealer at a time)."""

    def claim_due(self, *, owner: str, at: datetime, limit: int = 50,
                  lease: timedelta = timedelta(seconds=60)) -> list[Ticket]:
        """Lease up to ``limit`` tickets with work due at ``at`` to ``owner``."""

    def release_claims(self, ticket_ids: Iterable[str], *, owner: str,
                       hold_until: datetime | None = None) -> None:
        """Give leases back, keeping the tickets out of reach until ``hold_until``."""

    def record_batch(self, plans: Sequence[StepPlan], *, owner: str,
                     release_at: datetime | None = None) -> dict[str, Recorded | Refused | None]:
        """Write each plan's steps and move its ticket's cursor, once (None: lost)."""

    def finish_steps(self, deliveries: Sequence[Delivery]) -> None:
        """Record how the effects went: sent, failed or retrying."""

    def batch_cards(self, ticket_ids: Sequence[str]) -> dict[str, str]:
        """The batch of each of these tickets whose card is its batch's card."""

    def due_retries(self, ticket_ids: Sequence[str],
                    at: datetime) -> dict[str, list[EscalationStep]]:
        """Delivery retries due at ``at`` for these tickets, oldest first."""

    def begin_retry(self, step_id: int, *, attempts: int, abandon: bool = False) -> bool:
        """Take a due retry (False if another sweeper took it), or drop it."""

    def behind_surfaces(self, *, limit: int = 50) -> list[Ticket]:
        """Tickets whose card or DM copies show an older version than the ticket's."""

    def mark_shown(self, ticket_id: str, version: int) -> bool:
        """Record that the ticket's surfaces show ``version`` (if it is still at it)."""
    def lose_executions(self, *, at: datetime, limit: int = 50) -> list[Ticket]:
        """Mark executions whose lease ended before ``at`` ``outcome_unknown`` (once)."""
