"""Fault injection: Slack errors, HTTP statuses, 429s and slow answers, for the next N calls."""

from __future__ import annotations

import time
import urllib.error
import urllib.request

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.sandbox import Fault, SlackSandbox


def _post(client: WebClient, text: str = "x") -> dict[str, object]:
    response = client.chat_postMessage(channel="C0GENERAL", text=text)
    return {"ok": response["ok"], "ts": response["ts"]}


def test_slack_error_for_the_next_n_calls(client: WebClient, sandbox: SlackSandbox) -> None:
    sandbox.inject_fault("chat.postMessage", error="fatal_error", times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as caught:
            _post(client)
        assert caught.value.response.status_code == 200
        assert caught.value.response["error"] == "fatal_error"
    assert _post(client)["ok"] is True
    assert [c.error for c in sandbox.calls("chat.postMessage")] == ["fatal_error"] * 2 + [None]
    assert len(sandbox.messages("C0GENERAL")) == 1  # a failed call changes nothing


def test_faults_only_hit_their_method(client: WebClient, sandbox: SlackSandbox) -> None:
    sandbox.inject_fault("chat.update", error="fatal_error")
    assert _post(client)["ok"] is True
    assert len(sandbox.faults.pending()) == 1


def test_wildcard_fault(client: WebClient, sandbox: SlackSandbox) -> None:
    sandbox.inject_fault("*", error="team_access_not_granted")
    with pytest.raises(SlackApiError):
        client.auth_test()
    assert client.auth_test()["ok"] is True


def test_http_status(client: WebClient, sandbox: SlackSandbox) -> None:
    sandbox.inject_fault("chat.postMessage", status=503)
    with pytest.raises(SlackApiError) as caught:
        _post(client)
    assert caught.value.response.status_code == 503
    assert sandbox.calls("chat.postMessage")[0].status == 503


def test_server_errors_are_retried_by_the_sdk_handler(sandbox: SlackSandbox) -> None:
    sandbox.inject_fault("chat.postMessage", status=500)
    client = WebClient(base_url=sandbox.api_url, token=sandbox.bot_token,
                       retry_handlers=[ServerErrorRetryHandler(max_retry_count=1)])
    assert _post(client)["ok"] is True
    assert [c.status for c in sandbox.calls("chat.postMessage")] == [500, 200]


def test_429_with_retry_after(sandbox: SlackSandbox) -> None:
    sandbox.inject_fault("chat.postMessage", retry_after=7)
    request = urllib.request.Request(
        sandbox.api_url + "chat.postMessage", data=b"channel=C0GENERAL&text=x",
        headers={"Authorization": f"Bearer {sandbox.bot_token}"})
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request)
    assert caught.value.code == 429
    assert caught.value.headers["Retry-After"] == "7"


def test_injected_429_is_retried_by_the_rate_limit_handler(sandbox: SlackSandbox) -> None:
    sandbox.inject_fault("chat.postMessage", retry_after=0)
    client = WebClient(base_url=sandbox.api_url, token=sandbox.bot_token,
                       retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)])
    assert _post(client, "once")["ok"] is True
    assert [c.status for c in sandbox.calls("chat.postMessage")] == [429, 200]
    assert [m.text for m in sandbox.messages("C0GENERAL")] == ["once"]


def test_delay_then_success(client: WebClient, sandbox: SlackSandbox) -> None:
    sandbox.inject_fault("auth.test", delay=0.3)
    started = time.perf_counter()
    assert client.auth_test()["ok"] is True
    assert time.perf_counter() - started >= 0.3


def test_delay_beyond_the_clients_timeout(sandbox: SlackSandbox) -> None:
    sandbox.inject_fault("auth.test", delay=0.5)
    impatient = WebClient(base_url=sandbox.api_url, token=sandbox.bot_token,
                          timeout=0.1)  # type: ignore[arg-type]
    with pytest.raises((TimeoutError, urllib.error.URLError)):
        impatient.auth_test()


def test_delay_combined_with_an_error(client: WebClient, sandbox: SlackSandbox) -> None:
    sandbox.inject_fault("auth.test", delay=0.2, error="service_unavailable")
    started = time.perf_counter()
    with pytest.raises(SlackApiError):
        client.auth_test()
    assert time.perf_counter() - started >= 0.2


def test_a_fault_is_one_kind_of_failure() -> None:
    with pytest.raises(ValueError):
        Fault("auth.test", error="x", status=500)
    with pytest.raises(ValueError):
        Fault("auth.test", times=0)
