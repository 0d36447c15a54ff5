"""The one exception tree of signoff.

Everything signoff raises on purpose derives from :class:`SignoffError`. The ledger's
errors live here because ``store`` is the innermost package; the policy/config errors
(``escalation``) and the agent-facing approval errors (``bot``) subclass these bases.

    SignoffError
    ├── ConfigError                      bad settings or signoff.yml (names file, key, fix)
    ├── StoreError                       the ledger refused or failed
    │   ├── StoreUnavailable             the database could not be reached / driver error
    │   ├── SchemaOutOfDate              run `signoff migrate`
    │   ├── TicketNotFound
    │   ├── TransitionRefused            guarded update lost: says current status and who decided
    │   │   ├── AlreadyDecided           somebody else decided first
    │   │   ├── DeadlinePassed           decision after expires_at (database clock)
    │   │   ├── DuplicateApproval        the same reviewer approved twice
    │   │   └── ChangedSinceSeen         the request changed after the reviewer's view of it
    │   ├── ArgumentsMismatch            executor asked to run arguments nobody approved
    │   └── ActionMismatch               executor asked to run another tool than the approved one
    ├── IdempotencyConflict              an idempotency key reused for another action or args
    └── ApprovalError (bot)              what an agent sees: denied, rejected, expired, ...
"""

from __future__ import annotations

from datetime import datetime


class SignoffError(Exception):
    """Base of every error signoff raises on purpose."""


class ConfigError(SignoffError):
    """Invalid settings or configuration. The message names the file, the key and the fix."""


class StoreError(SignoffError):
    """The ledger refused an operation or could not perform it."""


class StoreUnavailable(StoreError):
    """The database driver failed (connection refused, disk full, lock timeout...)."""


class SchemaOutOfDate(StoreError):
    """The database schema is missing or older than this version of signoff."""


class TicketNotFound(StoreError):
    def __init__(self, ticket_id: str) -> None:
        super().__init__(f"no ticket with id {ticket_id!r}")
        self.ticket_id = ticket_id


class TransitionRefused(StoreError):
    """A guarded update did not apply. Carries what the ticket looks like now."""

    def __init__(
        self,
        ticket_id: str,
        event: str,
        status: str,
        *,
        decided_by: str | None = None,
        decided_at: datetime | None = None,
        detail: str | None = None,
    ) -> None:
        self.ticket_id = ticket_id
        self.event = event
        self.status = status
        self.decided_by = decided_by
        self.decided_at = decided_at
        msg = f"ticket {ticket_id}: cannot {event}: it is {status}"
        if decided_by:
            msg += f" (decided by {decided_by}"
            msg += f" at {decided_at.isoformat()})" if decided_at else ")"
        if detail:
            msg += f"; {detail}"
        super().__init__(msg)


class AlreadyDecided(TransitionRefused):
    """Another decision won the race; this one changed nothing."""


class DeadlinePassed(TransitionRefused):
    """The ticket's deadline has passed by the database's clock; nothing changed."""


class DuplicateApproval(TransitionRefused):
    """This reviewer already approved these arguments; a second person is needed."""


class ChangedSinceSeen(TransitionRefused):
    """The decision was made on an older version of the request than the current one
    (other arguments, route or approvals): it would bind something the reviewer never saw."""

    def __init__(self, ticket_id: str, event: str, status: str, *, seen: int | None,
                 current: int) -> None:
        super().__init__(ticket_id, event, status, detail=(
            f"the reviewer saw version {seen if seen is not None else 'unknown'}, "
            f"it is now at version {current}"))
        self.seen = seen
        self.current = current


class ArgumentsMismatch(StoreError):
    """The arguments offered for execution do not hash to the approved ones."""

    def __init__(self, ticket_id: str, expected: str, got: str) -> None:
        super().__init__(
            f"ticket {ticket_id}: refusing to execute arguments with hash {got[:12]}…; "
            f"the approved arguments hash to {expected[:12]}…"
        )
        self.ticket_id = ticket_id
        self.expected = expected
        self.got = got


class ActionMismatch(StoreError):
    """The tool offered for execution is not the action the ticket approved (or names none)."""

    def __init__(self, ticket_id: str, expected: str, got: str | None) -> None:
        if got is None:
            msg = (f"ticket {ticket_id} approved {expected!r}; name the action the tool "
                   f"performs (execute(ticket_id, tool, action=...) or pass the gated tool)")
        else:
            msg = (f"ticket {ticket_id}: refusing to run {got!r} on an approval for "
                   f"{expected!r}; request approval for {got!r} itself")
        super().__init__(msg)
        self.ticket_id = ticket_id
        self.expected = expected
        self.got = got


class IdempotencyConflict(SignoffError):
    """An idempotency key came back with another action or other arguments.

    The key names one request: reusing it for something else would hand back (and let run)
    a ticket nobody approved for that. Use a fresh key for a different request.
    """

    def __init__(self, key: str, ticket_id: str, what: str) -> None:
        super().__init__(f"idempotency key {key!r} was already used for ticket {ticket_id} "
                         f"with {what}; use a new key for a different request")
        self.key = key
        self.ticket_id = ticket_id
