"""Decision webhooks, signed like Stripe's.

Each POST carries ``Signoff-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret,
"<t>.<raw body>")>`` and ``Signoff-Event-Id``. A receiver recomputes the HMAC over the raw
body with the secret ``signoff agents add --webhook`` printed, compares in constant time,
refuses a ``t`` more than five minutes (``TOLERANCE_S``) from its clock, and drops event
ids it has seen (a retry repeats the id)::

    from bot.webhooks import verify
    event = verify(raw_body, request.headers["Signoff-Signature"], secret)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

from store.errors import WebhookInvalid

__all__ = ["EVENT_HEADER", "HEADER", "TOLERANCE_S", "WebhookInvalid", "signature", "verify"]

TOLERANCE_S = 300
HEADER = "Signoff-Signature"
EVENT_HEADER = "Signoff-Event-Id"


def signature(secret: str, body: bytes, t: int) -> str:
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def verify(body: bytes, header: str, secret: str, *, tolerance: float = TOLERANCE_S,
           now: float | None = None) -> dict[str, Any]:
    """The event, if ``header`` signs ``body`` with ``secret`` within ``tolerance`` seconds."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        t = int(parts["t"])
    except (KeyError, ValueError):
        raise WebhookInvalid(f"{HEADER} has no timestamp t=") from None
    if abs((time.time() if now is None else now) - t) > tolerance:
        raise WebhookInvalid(f"{HEADER} timestamp is more than {tolerance:.0f} s off")
    expected = signature(secret, body, t).split("v1=", 1)[1]
    if not hmac.compare_digest(expected, parts.get("v1", "")):
        raise WebhookInvalid(f"{HEADER} does not match the body")
    event: dict[str, Any] = json.loads(body)
    return event
