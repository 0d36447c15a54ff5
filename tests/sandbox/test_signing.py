"""What the sandbox sends is signed the way Slack signs, byte for byte."""

from __future__ import annotations

import time

import pytest
from slack_sdk import WebClient
from slack_sdk.signature import Clock, SignatureVerifier

from bot.sandbox import Forgery, SlackSandbox, sign
from tests.sandbox.conftest import SECRET, Receiver
from tests.sandbox.kit import actions, button


class _Later(Clock):
    """A verifier clock running ``offset`` seconds ahead of the real one."""

    def __init__(self, offset: float) -> None:
        self.offset = offset

    def now(self) -> float:
        return time.time() + self.offset


def _verify(receiver: Receiver, secret: str = SECRET, clock_offset: float = 0.0) -> bool:
    request = receiver.requests[-1]
    verifier = SignatureVerifier(secret, clock=_Later(clock_offset))
    return bool(verifier.is_valid_request(request.body, request.headers))


def _click(sandbox: SlackSandbox, client: WebClient, forgery: Forgery | None = None) -> None:
    client.chat_postMessage(channel="C0GENERAL", text="x", blocks=[actions(button("go"))])
    sandbox.click("U0ALICE", action_id="go", forgery=forgery)


def test_interaction_passes_slacks_verifier(sandbox: SlackSandbox, client: WebClient,
                                            receiver: Receiver) -> None:
    _click(sandbox, client)
    request = receiver.requests[-1]
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.body.startswith(b"payload=")
    assert request.headers["X-Slack-Signature"] == sign(
        SECRET, request.headers["X-Slack-Request-Timestamp"], request.body)
    assert _verify(receiver)


def test_event_passes_slacks_verifier(sandbox: SlackSandbox, receiver: Receiver) -> None:
    sandbox.send_event({"type": "app_mention", "user": "U0ALICE", "text": "hi",
                        "channel": "C0GENERAL"})
    assert receiver.requests[-1].headers["Content-Type"] == "application/json"
    assert receiver.payload()["event"]["type"] == "app_mention"
    assert _verify(receiver)


@pytest.mark.parametrize("forgery", [
    Forgery(tamper=True),
    Forgery(secret="not-the-secret"),
    Forgery(age=301),
    Forgery(signature="v0=" + "0" * 64),
], ids=["tampered body", "wrong secret", "older than 300 s", "made-up signature"])
def test_spoiled_requests_fail_verification(forgery: Forgery, sandbox: SlackSandbox,
                                            client: WebClient, receiver: Receiver) -> None:
    _click(sandbox, client, forgery)
    assert not _verify(receiver)


def test_a_request_turns_stale_after_300_seconds(sandbox: SlackSandbox, client: WebClient,
                                                 receiver: Receiver) -> None:
    _click(sandbox, client, Forgery(age=290))
    assert _verify(receiver)  # still within Slack's five minutes
    assert not _verify(receiver, clock_offset=11)


def test_verifier_with_the_wrong_secret_rejects(sandbox: SlackSandbox, client: WebClient,
                                                receiver: Receiver) -> None:
    _click(sandbox, client)
    assert not _verify(receiver, secret="another-secret")
