"""Decision webhooks: every state change of an agent's ticket reaches its URL, signed, with
an event id; a failed post is retried from the database; two senders deliver each event once."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from bot.server.webhooks import WebhookSender
from bot.webhooks import WebhookInvalid, verify
from store import changes
from store.agents import WebhookStore
from store.ledger import Ledger
from tests.e2e.conftest import Rig, running_gateway
from tests.e2e.test_gateway import BODY, approve


class Receiver:
    """A local HTTP endpoint that fails its first ``fail`` requests, then records."""

    def __init__(self, fail: int = 1) -> None:
        self.received: list[tuple[dict[str, str], bytes, int]] = []
        self.fail = fail
        lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with lock:
                    code = 500 if outer.fail > 0 else 200
                    outer.fail -= 1
                    outer.received.append((dict(self.headers), body, code))
                self.send_response(code)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def accepted(self) -> list[str]:
        return [h["Signoff-Event-Id"] for h, _, code in self.received if code == 200]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


def test_each_state_change_is_delivered_signed_and_exactly_once(rig: Rig, db_url: str,
                                                                 receiver: Receiver) -> None:
    second = Ledger.open(db_url)  # another replica's sender, on its own connections
    senders = [WebhookSender(WebhookStore(ledger), idle=0.05,
                             backoff=timedelta(milliseconds=100)).start()
               for ledger in (rig.ledger, second)]
    try:
        with running_gateway(rig, db_url, webhook_url=receiver.url) as g, \
                httpx.Client(base_url=g.url, headers={"Authorization": f"Bearer {g.token}"},
                             timeout=30) as c:
            secret = g.gateway.agents.get(g.agent).webhook_secret
            ticket = c.post("/v1/requests", json=BODY).json()
            approve(rig, ticket["id"])
            c.post(f"/v1/requests/{ticket['id']}/execution")
            c.post(f"/v1/requests/{ticket['id']}/outcome", json={"ok": True})
            expected = {f"evt_{ticket['id']}_{v}" for v in (2, 3, 4)}
            deadline = time.monotonic() + 15
            while set(receiver.accepted()) != expected and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.3)  # a duplicate would arrive now
    finally:
        for sender in senders:
            sender.close()
        second.close()
    assert sorted(receiver.accepted()) == sorted(expected)  # each once, after one retry
    assert [code for _, _, code in receiver.received].count(500) == 1
    assert secret is not None
    types = []
    for headers, body, _ in receiver.received:
        event = verify(body, headers["Signoff-Signature"], secret)
        assert event["id"] == headers["Signoff-Event-Id"]
        types.append(event["type"])
        with pytest.raises(WebhookInvalid):
            verify(body.replace(b'"ticket.', b'"other.'), headers["Signoff-Signature"], secret)
        with pytest.raises(WebhookInvalid):
            verify(body, headers["Signoff-Signature"], secret, now=time.time() + 301)
    assert {"ticket.approved", "ticket.executing", "ticket.executed"} == set(types)
    rows = WebhookStore(rig.ledger).deliveries()
    assert {r.status for r in rows} == {"delivered"}
    retried = [r for r in rows if r.attempts == 2]
    assert len(retried) == 1 and retried[0].last_error is None


def test_redeliver_sends_the_same_event_again(rig: Rig, db_url: str) -> None:
    receiver = Receiver(fail=0)
    store = WebhookStore(rig.ledger)
    sender = WebhookSender(store, idle=0.05)
    try:
        with running_gateway(rig, db_url, webhook_url=receiver.url) as g, \
                httpx.Client(base_url=g.url, headers={"Authorization": f"Bearer {g.token}"},
                             timeout=30) as c:
            ticket = c.post("/v1/requests", json=BODY).json()
            c.post(f"/v1/requests/{ticket['id']}/cancel", json={"reason": "not needed"})
        assert sender.send_due() == 1
        (delivery,) = store.deliveries()
        assert delivery.event == "ticket.cancelled" and delivery.status == "delivered"
        assert sender.send_due() == 0
        store.redeliver(delivery.id)
        assert sender.send_due() == 1
    finally:
        sender.close()
        receiver.server.shutdown()
    assert receiver.accepted() == [delivery.id, delivery.id]
    assert json.loads(receiver.received[1][1])["data"]["status"] == "cancelled"


def test_the_sender_wakes_for_queued_deliveries_only(rig: Rig, db_url: str,
                                                      receiver: Receiver) -> None:
    """Every change of every ticket used to wake the sender for a query; now only a commit
    that queued a delivery does, and that wake delivers at once (no idle round needed)."""
    woken: list[str] = []
    stop = changes.listen_deliveries(woken.append)
    receiver.fail = 0
    sender = WebhookSender(WebhookStore(rig.ledger), idle=60).start()  # no idle round here
    try:
        quiet = rig.client.request("issue_refund", {"amount": 5, "customer": "cus_1"},
                                   reason="no webhook", requested_by="U0REQUESTER")
        approve(rig, quiet.id)
        assert woken == []  # its agent has no webhook: nothing queued, nothing woken
        with running_gateway(rig, db_url, webhook_url=receiver.url) as g, \
                httpx.Client(base_url=g.url, headers={"Authorization": f"Bearer {g.token}"},
                             timeout=30) as c:
            ticket = c.post("/v1/requests", json=BODY).json()
            approve(rig, ticket["id"])
            deadline = time.monotonic() + 10
            while not receiver.accepted() and time.monotonic() < deadline:
                time.sleep(0.02)
    finally:
        sender.close()
        stop()
    assert woken == [ticket["id"]]
    assert receiver.accepted() == [f"evt_{ticket['id']}_2"]
