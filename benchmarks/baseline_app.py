"""The ack-latency baseline: a bare Bolt app whose only handler acks, behind the same
``HttpServer``/``Router`` as ``signoff serve``, with the same Bolt options.

    python -m benchmarks.baseline_app --port 3001   # env as for signoff serve
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.render import ACTION_APPROVE
from bot.server.http import HttpServer, Router
from bot.settings import load_settings
from store.ledger import Ledger


def build_baseline(client: WebClient, signing_secret: str) -> App:
    app = App(client=client, signing_secret=signing_secret, token_verification_enabled=False,
              process_before_response=False, raise_error_for_unhandled_request=False)

    @app.action(ACTION_APPROVE)
    def approve(ack: Ack) -> None:
        ack()

    return app


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.baseline_app")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=16)
    args = parser.parse_args(argv)
    settings = load_settings()
    assert settings.slack_bot_token and settings.slack_signing_secret
    client = WebClient(token=settings.slack_bot_token.get_secret_value(),
                       base_url=settings.slack_api_url)
    app = build_baseline(client, settings.slack_signing_secret.get_secret_value())
    ledger = Ledger.open(settings.database_url)
    server = HttpServer(Router(app, ledger, "baseline"), host="127.0.0.1", port=args.port,
                        threads=args.threads)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        threading.Thread(target=server.close, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    server.serve_forever()
    ledger.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
