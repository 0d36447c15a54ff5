"""One agent of the ``many_agents`` scenario, in its own process: request → wait in a loop
through the HTTP gateway (``POST /v1/requests``, then ``GET /v1/requests/{id}?wait=30``
until decided) for a fixed time. Standard library only, so starting it costs little.

Writes one line per finished request: ``<id> <sent> <created> <resumed> <status>``, times
from ``time.monotonic()`` (CLOCK_MONOTONIC, shared by every process on the host).

    python -m benchmarks.gateway_agent API_URL TOKEN SECONDS OUT INDEX
"""

from __future__ import annotations

import http.client
import json
import sys
import time
from urllib.parse import urlsplit

WAIT_S = 30


def main(argv: list[str]) -> int:
    api_url, token, seconds, out, index = argv
    parts = urlsplit(api_url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    deadline = time.monotonic() + float(seconds)
    lines = []
    n = 0
    while time.monotonic() < deadline:
        n += 1
        body = json.dumps({"action": "issue_refund",
                           "args": {"amount": int(index) * 1_000_000 + n, "customer": "cus_42"},
                           "reason": "customer was double charged",
                           "requested_by": "U0BENCHREQ"})
        sent = time.monotonic()
        conn.request("POST", "/v1/requests", body=body, headers=headers)
        doc = json.loads(conn.getresponse().read())
        created = time.monotonic()
        status = doc.get("status", "pending")
        while status == "pending":
            conn.request("GET", f"/v1/requests/{doc['id']}?wait={WAIT_S}", headers=headers)
            status = json.loads(conn.getresponse().read()).get("status", "pending")
        lines.append(f"{doc['id']} {sent} {created} {time.monotonic()} {status}\n")
    conn.close()
    with open(out, "w") as fh:
        fh.writelines(lines)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
