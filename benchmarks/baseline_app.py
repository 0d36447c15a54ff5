"""The ack-latency baselines, behind the same ``HttpServer`` (waitress, same threads) as
``signoff serve``:

- a bare Bolt app whose only handler acks, behind the same ``Router``;
- ``--minimal``: the least a signed handler that records the click can do, without Bolt:
  check the signature and timestamp (``slack_sdk``'s ``SignatureVerifier``), read the
  payload, write the click to the inbox in one transaction of its own (the write signoff
  makes before it acks), answer 200.

    python -m benchmarks.baseline_app --port 3001 [--minimal]   # env as for signoff serve
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from types import FrameType
from typing import Any
from urllib.parse import parse_qs

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier

from bot.render import ACTION_APPROVE
from bot.render.ids import parse_button_value
from bot.server.http import HttpServer, Router
from bot.settings import load_settings
from store.inbox import NewClick
from store.ledger import Ledger
from store.models import DecisionKind


def build_baseline(client: WebClient, signing_secret: str) -> App:
    app = App(client=client, signing_secret=signing_secret, token_verification_enabled=False,
              process_before_response=False, raise_error_for_unhandled_request=False)

    @app.action(ACTION_APPROVE)
    def approve(ack: Ack) -> None:
        ack()

    return app


def minimal_handler(ledger: Ledger, signing_secret: str) -> Callable[..., list[bytes]]:
    """A WSGI app: verify, parse, one INSERT of the click, 200 (``GET /healthz``: 200)."""
    verifier = SignatureVerifier(signing_secret)

    def app(environ: dict[str, Any], start: Callable[..., Any]) -> list[bytes]:
        if environ.get("REQUEST_METHOD") == "GET":
            start("200 OK", [("Content-Length", "0")])
            return [b""]
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        if not verifier.is_valid(body, environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", ""),
                                 environ.get("HTTP_X_SLACK_SIGNATURE", "")):
            start("401 Unauthorized", [("Content-Length", "0")])
            return [b""]
        payload = json.loads(parse_qs(body.decode())["payload"][0])
        value = parse_button_value(payload["actions"][0]["value"])
        ledger.receive_clicks([NewClick(
            ticket_id=value.ticket_id, user=payload["user"]["id"], kind=DecisionKind.APPROVE,
            shown_version=value.version, channel=payload["channel"]["id"],
            message_ts=payload["container"]["message_ts"],
            response_url=payload["response_url"])], owner="baseline")
        start("200 OK", [("Content-Length", "0")])
        return [b""]

    return app


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.baseline_app")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--minimal", action="store_true",
                        help="a signed handler writing the click, without Bolt")
    args = parser.parse_args(argv)
    settings = load_settings()
    assert settings.slack_bot_token and settings.slack_signing_secret
    secret = settings.slack_signing_secret.get_secret_value()
    ledger = Ledger.open(settings.database_url)
    if args.minimal:
        wsgi: Callable[..., Iterable[bytes]] = minimal_handler(ledger, secret)
    else:
        client = WebClient(token=settings.slack_bot_token.get_secret_value(),
                           base_url=settings.slack_api_url)
        wsgi = Router(build_baseline(client, secret), ledger, "baseline")
    server = HttpServer(wsgi, host="127.0.0.1", port=args.port, threads=args.threads)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        threading.Thread(target=server.close, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    server.serve_forever()
    ledger.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
