"""Slack Web API access shared by the bot and the agent-side client."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.counters import SlackErrorCounter
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


def post_card(slack: WebClient | None, ledger: Ledger, ticket: Ticket,
              message: dict[str, Any]) -> Ticket:
    """Post the review card to the route's channel and record it.

    A card that cannot be delivered is never left silently waiting: the failure goes to
    the audit trail as ``delivery_failed`` and the escalation engine takes over at once.
    """
    if slack is None:
        return _undelivered(ledger, ticket, "no Slack token configured (SLACK_BOT_TOKEN)")
    try:
        resp = slack.chat_postMessage(channel=ticket.route.channel, text=message["text"],
                                      blocks=message["blocks"], unfurl_links=False)
    except (SlackApiError, SlackClientError, OSError) as exc:
        log.warning("card for ticket %s not delivered: %s", ticket.id, slack_error(exc))
        return _undelivered(ledger, ticket, slack_error(exc))
    ref = SlackRef(role="card", channel=str(resp["channel"]), ts=str(resp["ts"]))
    return ledger.record_card(ticket, ref)


def _undelivered(ledger: Ledger, ticket: Ticket, error: str) -> Ticket:
    return ledger.mark_delivery_failed(ticket.id, target=ticket.route.channel, error=error)
