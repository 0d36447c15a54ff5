"""Delivers decision webhooks from the ledger, in any replica (leases keep it to one).

Woken by this process's commits that queued a delivery, and otherwise every ``idle``
seconds, so retries and events committed by other replicas go out too. Changes of tickets
whose agent has no webhook (most of them) do not wake it: each wake is a query.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import timedelta

import httpx

from bot import webhooks
from store import changes
from store.agents import Agent, WebhookStore
from store.webhooks import Delivery

log = logging.getLogger(__name__)


class WebhookSender:
    def __init__(self, store: WebhookStore, *, idle: float = 1.0,
                 backoff: timedelta = timedelta(seconds=10), timeout: float = 10.0) -> None:
        self.store, self.idle, self.backoff = store, idle, backoff
        self._http = httpx.Client(timeout=timeout, follow_redirects=False)
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._unlisten = changes.listen_deliveries(lambda _id: self._wake.set())

    def start(self) -> WebhookSender:
        self._thread = threading.Thread(target=self._run, name="signoff-webhooks", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=15)
        self._unlisten()
        self._http.close()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                sent = self.send_due()
            except Exception:  # the database is away: try again after a pause
                log.exception("webhook delivery round failed")
                sent = 0
            if not sent:
                self._wake.wait(self.idle)
                self._wake.clear()

    def send_due(self) -> int:
        """One round: lease what is due, post each, record each result."""
        due = self.store.claim_due()
        for delivery, agent in due:
            ok, error = self._post(delivery, agent)
            self.store.record(delivery.id, ok=ok, error=error, base=self.backoff)
        return len(due)

    def _post(self, delivery: Delivery, agent: Agent) -> tuple[bool, str | None]:
        if not agent.webhook_url or not agent.webhook_secret:
            return False, "the agent has no webhook any more"
        body = json.dumps(delivery.body(), separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json",
                   webhooks.HEADER: webhooks.signature(agent.webhook_secret, body,
                                                       int(time.time())),
                   webhooks.EVENT_HEADER: delivery.id}
        try:
            resp = self._http.post(agent.webhook_url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return False, f"{type(exc).__name__}: {exc}"
        if 200 <= resp.status_code < 300:
            return True, None
        return False, f"HTTP {resp.status_code}"
