"""The front door's answers to bad input: a non-numeric Slack timestamp is a forgery (401, not
500), a mistyped SQLite URL is one line naming the fix, and ``/healthz`` says 503 when the
ledger can read but not write (a read-only SQLite file, a read-only PostgreSQL)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy.engine import make_url

from bot.cli import main
from bot.sandbox import sign
from bot.server.http import HttpServer, Router
from store.ledger import Ledger
from tests.e2e.conftest import SECRET, Rig
from tests.e2e.test_reviews import refund


def _post(rig: Rig, timestamp: str, body: bytes) -> tuple[int, bytes]:
    request = urllib.request.Request(
        f"{rig.server.url}/slack/events", data=body, method="POST",
        headers={"X-Slack-Request-Timestamp": timestamp,
                 "X-Slack-Signature": sign(SECRET, timestamp, body),
                 "Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.mark.parametrize("timestamp", ["abc", "", "1e9", "-1", "+{now}", "{now}.5",
                                       "9" * 40, "0x1f"])
def test_a_non_numeric_request_timestamp_is_401(rig: Rig, timestamp: str) -> None:
    ticket = refund(rig)
    stamp = timestamp.format(now=int(time.time()))
    payload = {"type": "block_actions", "user": {"id": "U0PAYLEAD"},
               "actions": [{"action_id": "signoff_approve", "value": ticket.id}]}
    status, body = _post(rig, stamp, urlencode({"payload": json.dumps(payload)}).encode())
    assert status == 401, body
    assert rig.ledger.decisions(ticket.id) == []


@pytest.mark.parametrize("url", ["sqlite:/x.db", "sqlite:x.db", "sqlite://x.db"])
def test_a_sqlite_url_with_too_few_slashes_is_one_line_naming_the_fix(
        url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SIGNOFF_DATABASE_URL", url)
    assert main(["migrate"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "SIGNOFF_DATABASE_URL" in err and "sqlite:///x.db" in err and "sqlite:////x.db" in err


def _read_only(url: str, tmp_path: Path) -> str:
    """The same database, opened the way a read-only file or a read-only replica is."""
    if url.startswith("sqlite"):
        return f"sqlite:///file:{make_url(url).database}?mode=ro&uri=true"
    parsed = make_url(url)
    options = parsed.query.get("options", "")
    assert isinstance(options, str)
    return parsed.update_query_dict(
        {"options": f"{options} -cdefault_transaction_read_only=on"}).render_as_string(
            hide_password=False)


@contextmanager
def _front_door(rig: Rig, ledger: Ledger) -> Iterator[str]:
    """The bot's own front door (its Bolt app), on a real server, over ``ledger``."""
    server = HttpServer(Router(rig.service.app, ledger, rig.config.policy_version),
                        port=0).start()
    try:
        yield server.url
    finally:
        server.close()


def _health(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_healthz_is_503_when_the_ledger_cannot_write(rig: Rig, db_url: str,
                                                     tmp_path: Path) -> None:
    status, doc = _health(rig.server.url)
    assert status == 200 and doc["ok"], doc
    refund(rig)  # the file exists, with its write-ahead log, before it is opened read-only
    read_only = Ledger.open(_read_only(db_url, tmp_path))
    try:
        with _front_door(rig, read_only) as url:
            assert read_only.list_tickets()  # it still reads ...
            status, doc = _health(url)  # ... but could not record a decision
    finally:
        read_only.close()
    assert status == 503 and not doc["ok"]
    assert doc["database"].startswith("cannot write") and "read" in doc["database"].lower()


@pytest.mark.parametrize("actions", [[], None, "x", [None], [{}]])
def test_a_signed_click_without_a_usable_action_is_200_and_decides_nothing(
        rig: Rig, actions: Any) -> None:
    """A block_actions payload whose ``actions`` is empty, missing or malformed names no
    button: it is acknowledged (Slack would retry an error) and changes nothing."""
    ticket = refund(rig)
    payload: dict[str, Any] = {"type": "block_actions", "user": {"id": "U0PAYLEAD"},
                               "team": {"id": "T0SIGNOFF"}, "token": "x"}
    if actions is not None:
        payload["actions"] = actions
    status, body = _post(rig, str(int(time.time())),
                         urlencode({"payload": json.dumps(payload)}).encode())
    assert status == 200, body
    time.sleep(0.2)
    assert rig.ledger.decisions(ticket.id) == [] and rig.ledger.clicks() == []
