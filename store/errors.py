"""The one exception tree of signoff.

Everything signoff raises on purpose derives from :class:`SignoffError`, and every class of
the tree is defined here, in the innermost package, so that ``store``, ``escalation`` and
``bot`` all raise from it. Agents import the names from ``bot`` (``from bot import
ApprovalRejected``); ``bot.agent.errors`` and ``escalation.config`` re-export theirs.

    SignoffError
    ├── ConfigError                      bad settings or signoff.yml (names file, key, fix)
    │   ├── ConfigInvalid                signoff.yml has problems (``problems``: every one)
    │   │   └── ConfigNotFound           the configuration file does not exist
    │   └── ImportProblem                a PagerDuty policy cannot become a chain
    ├── StoreError                       the ledger refused or failed
    │   ├── StoreUnavailable             the database could not be reached / driver error
    │   ├── SchemaOutOfDate              run `signoff migrate`
    │   ├── TicketNotFound
    │   ├── TransitionRefused            guarded update lost: says current status and who decided
    │   │   ├── AlreadyDecided           somebody else decided first
    │   │   ├── DeadlinePassed           decision after expires_at (database clock)
    │   │   ├── DuplicateApproval        the same reviewer approved twice
    │   │   ├── ChangedSinceSeen         the request changed after the reviewer's view of it
    │   │   └── DelegationEnded          a delegation the decision relied on ended first
    │   ├── ArgumentsMismatch            executor asked to run arguments nobody approved
    │   ├── ActionMismatch               executor asked to run another tool than the approved one
    │   ├── ApprovalUnverifiable         approved, but its audit events do not back it
    │   ├── CheckpointInvalid            an audit checkpoint file that cannot be read
    │   ├── ClickSettled                 a reviewer's click already ended (decided or told)
    │   ├── ClickTooOld                  a click not recorded in time never counts
    │   ├── AgentExists / AgentNotFound  `signoff agents add` / `revoke` of a name
    │   └── OpenRequestsCapped           an agent already has as many open requests as it may
    ├── GatewayRefused                   signoff serve refused an agent's HTTP call (``code``)
    │   ├── AgentUnauthorized            401: token missing, unknown or revoked
    │   ├── ActionNotAllowed             403: the action is outside the token's globs
    │   └── TooManyPending               429: too many open requests (``retry_after``)
    ├── ReceiptInvalid                   a tool service refuses an approval receipt (``code``)
    ├── WebhookInvalid                   a webhook's signature or timestamp does not check out
    ├── DeliveryError                    Slack did not take a reminder, DM or notice (retryable?)
    ├── IdempotencyConflict              an idempotency key reused for another action or args
    └── ApprovalError                    what an agent sees: the action did not run as asked
        ├── ApprovalDenied               policy says never (``outcome`` has the rule)
        ├── ApprovalPending              waiting for a human (``ticket_id`` to resume later)
        ├── ApprovalNeedsInfo            a reviewer asked a question (answer, then wait again)
        ├── ApprovalRejected             a reviewer said no (``reviewer``, ``reason`` to re-plan)
        ├── ApprovalExpired              nobody decided in time: a denial, nothing ran
        ├── ApprovalTakenOver            a human owns the task now
        ├── ApprovalCancelled            the request was withdrawn
        ├── ApprovalConsumed             this approval already ran once (``outcome``)
        │   └── OutcomeUnknown           it started and never reported back: a human resolves
        ├── InvalidRequest               refused at the door (says which field, what to change)
        │   └── InvalidArguments         arguments not plain JSON or not fitting the tool's model
        └── RevalidationFailed           the revalidate hook said the facts went stale
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from store.models import Outcome, Ticket


class SignoffError(Exception):
    """Base of every error signoff raises on purpose."""


class ConfigError(SignoffError):
    """Invalid settings or configuration. The message names the file, the key and the fix."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a configuration file."""

    file: str
    line: int | None
    key: str
    message: str
    fix: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        key = f" {self.key}" if self.key else ""
        fix = f" — {self.fix}" if self.fix else ""
        return f"{where}{key}: {self.message}{fix}"


class ConfigInvalid(ConfigError):
    """The configuration has problems; ``problems`` lists every one found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        if len(self.problems) == 1:
            text = str(self.problems[0])
        else:
            head = f"{self.problems[0].file}: {len(self.problems)} problems in the configuration"
            text = head + "".join(f"\n  {p}" for p in self.problems)
        super().__init__(text)


class ConfigNotFound(ConfigInvalid):
    """The configuration file does not exist."""

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__([Problem(
            path, None, "", "configuration file not found",
            "create it, or point SIGNOFF_CONFIG (or --config) at your signoff.yml",
        )])


class ImportProblem(ConfigError):
    """The PagerDuty JSON or the identity map cannot be turned into a chain."""


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
    """This reviewer already approved these arguments; a second person is needed.
    ``counted_with``: the approver already counted that a delegation makes them one with."""

    def __init__(self, ticket_id: str, event: str, status: str, *,
                 detail: str | None = None, counted_with: str | None = None) -> None:
        self.counted_with = counted_with
        super().__init__(ticket_id, event, status, detail=detail)


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


class DelegationEnded(TransitionRefused):
    """The delegation a decision's authority relied on was revoked or ended before the
    decision could be recorded (checked under the ticket's row lock, by the database's
    clock): nothing was recorded. ``delegation``: its id (None: the decision named none)."""

    def __init__(self, ticket_id: str, event: str, status: str, *,
                 delegation: int | None) -> None:
        self.delegation = delegation
        super().__init__(ticket_id, event, status, detail=(
            f"delegation {delegation} it relied on is no longer active" if delegation is not None
            else "it was made on someone's behalf without naming the delegation"))


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


class ApprovalUnverifiable(StoreError):
    """The ticket says approved, but its audit events do not show that approval.

    Execution refuses it: the row was changed outside signoff (or its events were), so no
    authorised human can be shown to have approved these arguments.
    """

    def __init__(self, ticket_id: str, problems: list[str]) -> None:
        shown = "; ".join(problems[:3]) + ("; …" if len(problems) > 3 else "")
        super().__init__(
            f"ticket {ticket_id}: refusing to execute: its approval is not backed by its "
            f"audit events ({shown}); run `signoff audit verify` and ask for a new approval"
        )
        self.ticket_id = ticket_id
        self.problems = problems


class CheckpointInvalid(StoreError):
    """An audit checkpoint file has a line that is not a checkpoint (names file and line)."""


class ClickSettled(StoreError):
    """The click already ended (decided, or its clicker told): processing it again is moot."""

    def __init__(self, click_id: int) -> None:
        super().__init__(f"click {click_id} has already been handled")
        self.click_id = click_id


class ClickTooOld(StoreError):
    """The click could not be recorded in time, so it does not count (its clicker is told)."""

    def __init__(self, click_id: int, max_age: timedelta) -> None:
        super().__init__(f"click {click_id} was not recorded within "
                         f"{int(max_age.total_seconds())} s of being made")
        self.click_id = click_id
        self.max_age = max_age


class AgentExists(StoreError):
    def __init__(self, name: str) -> None:
        super().__init__(f"an agent named {name!r} already exists (names are never "
                         "reused, even after a revocation); pick another name")


class AgentNotFound(StoreError):
    def __init__(self, name: str) -> None:
        super().__init__(f"no agent named {name!r} (see `signoff agents list`)")


class OpenRequestsCapped(StoreError):
    """The agent already has ``limit`` requests waiting for a decision: nothing was opened.
    Counted in the transaction that would have opened one more, so concurrent requests
    cannot all slip under the cap."""

    def __init__(self, agent: str, limit: int) -> None:
        super().__init__(f"agent {agent!r} already has {limit} open requests; wait for a "
                         "decision before asking again")
        self.agent, self.limit = agent, limit


class GrantNotFound(StoreError):
    def __init__(self, grant_id: str) -> None:
        super().__init__(f"no standing grant with id {grant_id!r} (see `signoff grants list`)")
        self.grant_id = grant_id


class GrantNotAllowed(StoreError):
    """A standing grant that cannot be made; nothing was recorded (nor the approval)."""

    def __init__(self, ticket_id: str, why: str) -> None:
        super().__init__(f"no standing grant on ticket {ticket_id}: {why}")
        self.ticket_id, self.why = ticket_id, why


class DelegationInvalid(StoreError):
    """A delegation that cannot be made or revoked as asked; the message says what to change."""


class GatewayRefused(SignoffError):
    """``signoff serve`` refused an agent's HTTP call; ``code`` is the API's stable code."""

    def __init__(self, code: str, message: str, *, status: int) -> None:
        super().__init__(message)
        self.code, self.status = code, status


class AgentUnauthorized(GatewayRefused):
    """The agent token is missing, unknown or revoked (HTTP 401)."""


class ActionNotAllowed(GatewayRefused):
    """The agent's token does not cover this action (HTTP 403)."""


class TooManyPending(GatewayRefused):
    """The agent has as many open requests as it may (HTTP 429); retry after ``retry_after``."""

    def __init__(self, code: str, message: str, *, status: int,
                 retry_after: float | None = None) -> None:
        super().__init__(code, message, status=status)
        self.retry_after = retry_after


class ReceiptInvalid(SignoffError):
    """The receipt does not allow this call. ``code`` says why (stable, for logs)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"approval receipt refused ({code}): {message}")
        self.code = code


class WebhookInvalid(SignoffError):
    """The webhook's signature or timestamp does not check out: ignore the request."""


class DeliveryError(SignoffError):
    """A reminder, an on-call DM or an expiry notice could not be delivered. ``retryable``
    only when Slack certainly posted nothing; ``retry_after`` from a 429's header."""

    def __init__(self, message: str, *, retryable: bool = False,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


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


class ApprovalError(SignoffError):
    """Base for every outcome in which the requested action did not run as asked."""

    def __init__(self, message: str, *, ticket: Ticket | None = None) -> None:
        super().__init__(message)
        self.ticket = ticket

    @property
    def ticket_id(self) -> str | None:
        return self.ticket.id if self.ticket else None


class ApprovalDenied(ApprovalError):
    def __init__(self, action: str, rule: str, reason: str | None, *,
                 policy_version: str, ticket: Ticket | None = None) -> None:
        super().__init__(f"{action} is denied by policy {policy_version} ({rule})"
                         + (f": {reason}" if reason else ""), ticket=ticket)
        self.action, self.rule, self.reason = action, rule, reason
        self.policy_version = policy_version


class ApprovalPending(ApprovalError):
    """Raised by ``mode="defer"`` gates: store ``ticket_id`` and call ``resume`` later."""

    def __init__(self, ticket: Ticket) -> None:
        super().__init__(f"ticket {ticket.id} ({ticket.action}) is waiting for a reviewer",
                         ticket=ticket)


class ApprovalNeedsInfo(ApprovalError):
    def __init__(self, ticket: Ticket, question: str | None) -> None:
        super().__init__(f"ticket {ticket.id}: a reviewer asks: {question or '(no text)'}",
                         ticket=ticket)
        self.question = question


class ApprovalRejected(ApprovalError):
    def __init__(self, ticket: Ticket, reviewer: str | None, reason: str | None) -> None:
        super().__init__(f"ticket {ticket.id} ({ticket.action}) was rejected by {reviewer}: "
                         f"{reason or 'no reason given'}", ticket=ticket)
        self.reviewer, self.reason = reviewer, reason


class ApprovalExpired(ApprovalError):
    def __init__(self, ticket: Ticket) -> None:
        super().__init__(f"ticket {ticket.id} ({ticket.action}) expired: nobody decided by "
                         f"{ticket.expires_at.isoformat()}; nothing was executed", ticket=ticket)


class ApprovalTakenOver(ApprovalError):
    def __init__(self, ticket: Ticket) -> None:
        super().__init__(f"ticket {ticket.id} ({ticket.action}) was taken over by "
                         f"{ticket.decided_by}; a human owns this task now", ticket=ticket)
        self.owner = ticket.decided_by


class ApprovalCancelled(ApprovalError):
    def __init__(self, ticket: Ticket) -> None:
        super().__init__(f"ticket {ticket.id} ({ticket.action}) was cancelled", ticket=ticket)


class ApprovalConsumed(ApprovalError):
    """The approval was already used: a second resume never runs the tool again."""

    def __init__(self, ticket: Ticket) -> None:
        super().__init__(f"ticket {ticket.id} ({ticket.action}) was already executed "
                         f"(status {ticket.status.value})", ticket=ticket)
        self.outcome: Outcome | None = ticket.outcome


class OutcomeUnknown(ApprovalConsumed):
    """The approved action started but never reported an outcome within its lease (the
    executor was killed, say). It may or may not have happened, so it never runs again; a
    human must check and resolve the ticket."""

    def __init__(self, ticket: Ticket) -> None:
        ApprovalError.__init__(
            self, f"ticket {ticket.id} ({ticket.action}) started executing but never reported "
            "an outcome, so nobody knows whether it happened; it will not run again. Check "
            f"what happened, then record it: signoff tickets resolve {ticket.id} --outcome "
            "succeeded|failed --note '...' --by YOU", ticket=ticket)
        self.outcome = None


class RevalidationFailed(ApprovalError):
    def __init__(self, ticket: Ticket, detail: Any = None) -> None:
        super().__init__(f"ticket {ticket.id} ({ticket.action}): revalidation refused the "
                         f"approved arguments{': ' + str(detail) if detail else ''}; "
                         "nothing was executed", ticket=ticket)


class PlanStepRefused(ApprovalError):
    """A step offered to run under a plan's approval that the plan does not cover now: another
    action or other arguments than its next step, a step out of order or already run, or a
    plan that is not approved, was stopped, failed or expired. Nothing ran; the message says
    what to do (usually: request this action's own approval with ``client.request``)."""

    ticket = None  # rebuilt from an API error (code ``plan_step_refused``), only the message
    plan_id = detail = ""

    def __init__(self, plan_id: str, detail: str) -> None:
        super().__init__(f"plan {plan_id}: {detail}")
        self.plan_id = plan_id
        self.detail = detail


class InvalidRequest(ApprovalError):
    """Refused at the door, before anything was evaluated or stored: the message says
    which field is wrong and what to change."""

    def __init__(self, action: str, detail: Any, *, what: str = "invalid request") -> None:
        super().__init__(f"{action}: {what}: {detail}")
        self.action = action
        self.detail = detail


class InvalidArguments(InvalidRequest):
    """The proposed (or approved) arguments are not plain JSON or do not fit the tool's
    argument model."""

    def __init__(self, action: str, detail: Any) -> None:
        super().__init__(action, detail, what="invalid arguments")
