"""Slack's Web API: the client signoff uses, and :class:`WebApi`, the one seam through which
the bot and the agent-side client show tickets in Slack and record what they posted."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.counters import SlackErrorCounter
from bot.slack.retry import RetryQueue, retry_after
from store.ledger import Ledger
from store.models import SlackRef, Ticket

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 10


def make_web_client(token: str, base_url: str, *, rate_limit_retries: int = 3,
                    server_error_retries: int = 2) -> WebClient:
    """A WebClient that honours 429 Retry-After and retries 5xx and connection errors.

    slack_sdk retries 429s only when RateLimitErrorRetryHandler is installed.
    """
    return WebClient(
        token=token,
        base_url=base_url,
        timeout=DEFAULT_TIMEOUT_S,
        retry_handlers=[
            SlackErrorCounter(),  # counts 429s and 5xx for GET /metrics; never retries
            RateLimitErrorRetryHandler(max_retry_count=rate_limit_retries),
            ServerErrorRetryHandler(max_retry_count=server_error_retries),
            ConnectionErrorRetryHandler(max_retry_count=server_error_retries),
        ],
    )


def slack_error(exc: Exception) -> str:
    """A short, loggable name for a Slack failure."""
    if isinstance(exc, SlackApiError):
        data: Any = exc.response.data if exc.response is not None else None
        if isinstance(data, dict) and data.get("error"):
            return str(data["error"])
        return f"http_{exc.response.status_code}" if exc.response is not None else "api_error"
    return type(exc).__name__


class WebApi:
    """The one place the bot posts or updates what it shows about a ticket, and the one that
    records what it posted: the card (``record_card``), a card moved to another route's
    channel (``moved``), or that it could not post (``delivery_failed``, so the escalation
    engine takes over at once: a card is never left silently waiting).

    ``slack`` None (no token configured) delivers nothing and records that. With
    ``retries``, a best-effort call Slack answered 429 is tried again on that queue's thread
    after Slack's wait, never by sleeping in the caller's (a click's, the decision pool's).
    """

    def __init__(self, slack: WebClient | None, ledger: Ledger,
                 retries: RetryQueue | None = None) -> None:
        self.slack, self.ledger = slack, ledger
        self.retries = retries

    def post(self, channel: str, message: Mapping[str, Any], **extra: Any) -> Any:
        """``chat.postMessage``; Slack's errors are raised, for the caller to judge."""
        if self.slack is None:
            raise SlackClientError("no Slack token configured (SLACK_BOT_TOKEN)")
        return self.slack.chat_postMessage(channel=channel, text=message["text"],
                                           blocks=message["blocks"], **extra)

    def post_card(self, ticket: Ticket, message: Mapping[str, Any]) -> Ticket:
        """Post the review card to the route's channel and record it (or its failure)."""
        if self.slack is None:
            return self._undelivered(ticket, "no Slack token configured (SLACK_BOT_TOKEN)")
        try:
            resp = self.post(ticket.route.channel, message, unfurl_links=False)
        except (SlackApiError, SlackClientError, OSError) as exc:
            log.warning("card for ticket %s not delivered: %s", ticket.id, slack_error(exc))
            return self._undelivered(ticket, slack_error(exc))
        return self.ledger.record_card(ticket, _card_ref(resp))

    def move_card(self, ticket: Ticket, message: Mapping[str, Any], old: SlackRef | None,
                  editor: str) -> tuple[Ticket, bool]:
        """Post the card in the (new) route's channel and record the move; ``(ticket,
        False)`` when it could not be posted (recorded as ``delivery_failed``)."""
        try:
            resp = self.post(ticket.route.channel, message, unfurl_links=False)
        except (SlackApiError, SlackClientError, OSError) as exc:
            log.warning("moved card for ticket %s not delivered: %s", ticket.id,
                        slack_error(exc))
            return self._undelivered(ticket, slack_error(exc)), False
        moved = self.ledger.record_message(
            ticket.id, _card_ref(resp), audit_kind="moved", editor=editor,
            route=ticket.route.name, tier=ticket.tier.value, policy_rule=ticket.policy_rule,
            from_channel=old.channel if old else None, from_ts=old.ts if old else None)
        return moved, True

    def best_effort(self, method: str, ticket: Ticket | None, **kwargs: Any) -> Any:
        """Any other Web API call about a ticket (updates, thread replies, ephemerals): the
        ledger is the record, so a failure is logged, never raised."""
        if self.slack is None:
            return None
        call = getattr(self.slack, method)
        # A message has one latest version: its updates share a key, so the newest one wins.
        key: Any = ((method, kwargs.get("channel"), kwargs.get("ts")) if method == "chat_update"
                    else (method, id(kwargs)))
        try:
            result = call(**kwargs)
        except (SlackApiError, SlackClientError, OSError) as exc:
            wait = retry_after(exc)
            if wait is not None and self.retries is not None:
                self.retries.later(key, lambda: call(**kwargs), wait)
                return None
            log.warning("%s for ticket %s failed: %s", method,
                        ticket.id if ticket else "-", slack_error(exc))
            return None
        if self.retries is not None and method == "chat_update":
            self.retries.cancel(key)  # a queued older version must not overwrite this one
        return result

    def _undelivered(self, ticket: Ticket, error: str) -> Ticket:
        return self.ledger.mark_delivery_failed(ticket.id, target=ticket.route.channel,
                                                error=error)


def _card_ref(resp: Any) -> SlackRef:
    return SlackRef(role="card", channel=str(resp["channel"]), ts=str(resp["ts"]))
