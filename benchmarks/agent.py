"""The agent process of the decision-to-resume scenario: waits on tickets it is told about.

Reads one ticket id a line on stdin; prints ``{"ready": id}`` as it starts waiting and
``{"id": ..., "returned": <time.monotonic()>, "status": ...}`` when ``wait()`` returns.
Configured from the environment like any agent (``ApprovalClient.from_env``).
"""

from __future__ import annotations

import json
import sys
import time

from bot.agent.client import ApprovalClient


def main() -> int:
    client = ApprovalClient.from_env()
    _say({"started": True})
    for line in sys.stdin:
        ticket_id = line.strip()
        if not ticket_id:
            continue
        _say({"ready": ticket_id})
        ticket = client.wait(ticket_id, timeout=30)
        returned = time.monotonic()
        _say({"id": ticket_id, "returned": returned, "status": ticket.status.value})
    client.close()
    return 0


def _say(doc: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(doc) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
