"""Slack's side of a click, without the sandbox in the timed path: block_actions payloads,
signed with the app's secret and posted with ``http.client`` from threads."""

from __future__ import annotations

import copy
import http.client
import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from benchmarks.env import SECRET
from bot.render import ACTION_APPROVE
from bot.sandbox import SlackSandbox, sign

TIMEOUT_S = 10.0


def approve_payload(sandbox: SlackSandbox, user: str, ticket_id: str, channel: str,
                    ts: str) -> dict[str, Any]:
    """The block_actions payload Slack sends when ``user`` clicks Approve on a card."""
    ws = sandbox.workspace
    found = sandbox.message(channel, ts)
    message = copy.deepcopy(found.data) if found is not None else {"ts": ts}
    action = {"type": "button", "action_id": ACTION_APPROVE, "block_id": "actions",
              "value": _shown_value(message, ticket_id), "style": "primary",
              "action_ts": f"{time.time():.6f}",
              "text": {"type": "plain_text", "text": "Approve", "emoji": True}}
    return {
        "type": "block_actions", "api_app_id": ws.api_app_id, "token": "verification-token",
        "user": {"id": user, "username": user.lower(), "name": user.lower(),
                 "team_id": ws.team_id},
        "team": {"id": ws.team_id, "domain": ws.team_domain}, "enterprise": None,
        "is_enterprise_install": False,
        "container": {"type": "message", "message_ts": ts, "channel_id": channel,
                      "is_ephemeral": False},
        "trigger_id": f"{int(time.time())}.1.{ticket_id}",
        "channel": {"id": channel, "name": "bench-approvals"},
        "state": {"values": {}}, "message": message,
        "response_url": f"{sandbox.base_url}/response/none", "actions": [action],
    }


def _shown_value(message: dict[str, Any], ticket_id: str) -> str:
    """The Approve button's value on the card as posted: it names the version the reviewer
    saw, which the bot checks, so a benchmark click carries it like a real one."""
    for block in message.get("blocks", []):
        for element in block.get("elements", []) if block.get("type") == "actions" else []:
            if element.get("action_id") == ACTION_APPROVE:
                return str(element.get("value", ticket_id))
    return ticket_id


def form_body(payload: dict[str, Any]) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


@dataclass(frozen=True)
class Sent:
    started: float
    """``time.monotonic()`` just before the request went out (CLOCK_MONOTONIC: comparable
    across processes on one host)."""
    seconds: float
    status: int


def post_signed(url: str, body: bytes, secret: str = SECRET) -> Sent:
    """One signed interactivity request on a new connection, as Slack makes them."""
    parts = urlsplit(url)
    timestamp = str(int(time.time()))
    headers = {"Content-Type": "application/x-www-form-urlencoded",
               "X-Slack-Request-Timestamp": timestamp,
               "X-Slack-Signature": sign(secret, timestamp, body),
               "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)"}
    started = time.monotonic()
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port,
                                      timeout=TIMEOUT_S)
    try:
        conn.request("POST", parts.path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        status = response.status
    finally:
        conn.close()
    return Sent(started, time.monotonic() - started, status)


def burst(url: str, bodies: Sequence[bytes]) -> list[Sent]:
    """Send all ``bodies`` at once, one thread each, released together by a barrier."""
    gate = threading.Barrier(len(bodies))
    results: list[Sent | None] = [None] * len(bodies)
    errors: list[BaseException] = []

    def send(i: int) -> None:
        try:
            gate.wait(timeout=TIMEOUT_S)
            results[i] = post_signed(url, bodies[i])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"{len(errors)} of {len(bodies)} requests failed: {errors[0]!r}")
    done = [r for r in results if r is not None]
    bad = [r.status for r in done if r.status != 200]
    if bad:
        raise RuntimeError(f"non-200 answers: {bad[:5]}")
    return done
