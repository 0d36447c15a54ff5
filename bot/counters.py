"""Counters safe to keep in one process's memory (each replica counts its own; Prometheus
sums them across replicas; the processes of one ``serve --processes`` share them through
prometheus_client's multiprocess mode, see :mod:`bot.server.processes`). Everything about
tickets is read from the ledger instead, at scrape time (:mod:`bot.server.metrics`).

Labels stay bounded: HTTP paths are the few signoff serves (anything else is ``other``),
Slack methods are Slack's method names.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter
from slack_sdk.http_retry import RetryHandler

PROCESS = CollectorRegistry(auto_describe=True)

HTTP_REQUESTS = Counter(
    "signoff_http_requests", "HTTP requests served by this process, by path and status code",
    ["path", "code"], registry=PROCESS)
SLACK_RATE_LIMITED = Counter(
    "signoff_slack_rate_limited", "Slack Web API calls answered 429 (rate limited) in this "
    "process, by method", ["method"], registry=PROCESS)
SLACK_SERVER_ERRORS = Counter(
    "signoff_slack_server_errors", "Slack Web API calls answered 5xx in this process, by method",
    ["method"], registry=PROCESS)

KNOWN_PATHS = frozenset({"/slack/events", "/healthz", "/metrics"})


def count_http(path: str, status: str) -> None:
    HTTP_REQUESTS.labels(path if path in KNOWN_PATHS else "other", status.split(" ", 1)[0]).inc()


class SlackErrorCounter(RetryHandler):
    """First of a client's retry handlers: counts 429s and 5xx, never retries itself."""

    def __init__(self) -> None:
        super().__init__(max_retry_count=1 << 30)

    def _can_retry(self, *, state: Any, request: Any, response: Any = None,
                   error: Any = None) -> bool:
        status = getattr(response, "status_code", None)
        if status is not None:
            method = str(getattr(request, "url", "")).rstrip("/").rsplit("/", 1)[-1] or "?"
            if status == 429:
                SLACK_RATE_LIMITED.labels(method).inc()
            elif status >= 500:
                SLACK_SERVER_ERRORS.labels(method).inc()
        return False


__all__ = ["HTTP_REQUESTS", "PROCESS", "SLACK_RATE_LIMITED", "SLACK_SERVER_ERRORS",
           "SlackErrorCounter", "count_http"]
