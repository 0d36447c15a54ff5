"""Events the app does not acknowledge are redelivered with Slack's retry headers."""

from __future__ import annotations

from bot.sandbox import SlackSandbox
from tests.sandbox.conftest import Receiver


def test_an_unacknowledged_event_is_retried_with_slacks_headers(sandbox: SlackSandbox,
                                                                 receiver: Receiver) -> None:
    receiver.answer = (500, b"")
    result = sandbox.send_event({"type": "app_home_opened", "user": "U0ALICE", "tab": "home"},
                                retries=3)
    assert not result.ok and len(receiver.requests) == 4
    first, *again = receiver.requests
    assert "X-Slack-Retry-Num" not in first.headers
    assert [r.headers["X-Slack-Retry-Num"] for r in again] == ["1", "2", "3"]
    assert {r.headers["X-Slack-Retry-Reason"] for r in again} == {"http_error"}
    assert len({r.body for r in receiver.requests}) == 1  # the same event_id each time


def test_an_acknowledged_event_is_not_retried(sandbox: SlackSandbox, receiver: Receiver) -> None:
    assert sandbox.send_event({"type": "app_home_opened", "user": "U0ALICE"}, retries=3).ok
    assert len(receiver.requests) == 1
