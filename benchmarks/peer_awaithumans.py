# mypy: disable-error-code="import-not-found"
"""awaithumans' create → Slack decision → return, run inside a virtualenv that has
``awaithumans[server]`` (never imported by signoff itself).

    python peer_awaithumans.py SAMPLES WORKDIR   → one JSON document on stdout

Starts ``awaithumans dev`` on loopback (its own SQLite file, HOME pointed at WORKDIR so
its discovery file stays there), adds the reviewer as a Slack-linked operator, then for
each sample: ``await_human(...)`` creates a task and long-polls; the reviewer's decision
arrives as a signed Slack ``view_submission``; timed until ``await_human`` returns.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import random
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

SECRET = "peer-signing-secret"
TEAM, USER = "T0SANDBOX", "U0BENCHREV"
WARMUP = 2
JITTER_S = 1.0  # decisions land at random points of its once-a-second check


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(workdir: Path, token: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(HOME=str(workdir), AWAITHUMANS_DB_PATH=str(workdir / "dev.db"),
               AWAITHUMANS_PAYLOAD_KEY=secrets.token_urlsafe(32),
               AWAITHUMANS_ADMIN_API_TOKEN=token, AWAITHUMANS_SLACK_SIGNING_SECRET=SECRET)
    return env


def _status_kb(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _wait_up(proc: subprocess.Popen[bytes], port: int) -> None:
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"awaithumans dev exited with {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("awaithumans dev did not come up")


def _signed(body: bytes) -> dict[str, str]:
    ts = str(int(time.time()))
    mac = hmac.new(SECRET.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256)
    return {"Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": "v0=" + mac.hexdigest()}


def _submission(task_id: str) -> bytes:
    view = {"id": "V0BENCH", "type": "modal", "private_metadata": task_id,
            "callback_id": "awaithumans_review",
            "state": {"values": {"awaithumans:approved": {"approved": {
                "type": "radio_buttons",
                "selected_option": {"value": "true", "text": {"type": "plain_text",
                                                              "text": "Yes"}}}}}}}
    payload = {"type": "view_submission", "team": {"id": TEAM, "domain": "sandbox"},
               "user": {"id": USER, "username": "reviewer", "team_id": TEAM},
               "api_app_id": "A0SANDBOX", "trigger_id": "1.2.3", "view": view}
    return urlencode({"payload": json.dumps(payload)}).encode()


async def _one(base: str, token: str, i: int) -> tuple[float, float]:
    import awaithumans.client as sdk
    import httpx
    from pydantic import BaseModel

    class Refund(BaseModel):
        action: str
        amount: int

    class Decision(BaseModel):
        approved: bool

    created: asyncio.Future[tuple[str, float]] = asyncio.get_running_loop().create_future()

    def banner(*, base_url: str, task_id: str, timeout_seconds: int) -> None:
        created.set_result((task_id, time.perf_counter()))

    sdk._print_waiting_banner = banner  # the SDK's hook right after the task is created
    started = time.perf_counter()
    agent = asyncio.create_task(sdk.await_human(
        task="Approve refund", payload_schema=Refund, payload=Refund(action="refund", amount=i),
        response_schema=Decision, timeout_seconds=600, server_url=base, api_key=token,
        idempotency_key=f"bench-{i}-{secrets.token_hex(4)}"))
    task_id, made = await created
    await asyncio.sleep(random.uniform(0, JITTER_S))
    body = _submission(task_id)
    async with httpx.AsyncClient() as client:
        sent = time.perf_counter()
        reply = await client.post(f"{base}/api/channels/slack/interactions", content=body,
                                  headers=_signed(body))
    if reply.status_code != 200 or reply.json():
        raise RuntimeError(f"view_submission refused: {reply.status_code} {reply.text[:300]}")
    result = await agent
    done = time.perf_counter()
    assert result.approved is True
    return (made - started) * 1000, (done - sent) * 1000


def main(samples: int, workdir: Path) -> dict[str, Any]:
    token, port = secrets.token_urlsafe(24), _free_port()
    env = _env(workdir, token)
    cli = str(Path(sys.executable).parent / "awaithumans")
    log = open(workdir / "awaithumans.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen([cli, "dev", "--host", "127.0.0.1", "--port", str(port),
                             "--db-path", env["AWAITHUMANS_DB_PATH"], "--log-level", "WARNING"],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_up(proc, port)
        time.sleep(1.0)
        idle_mb = _status_kb(proc.pid, "VmRSS") / 1024
        subprocess.run([cli, "add-user", "--slack-team-id", TEAM, "--slack-user-id", USER,
                        "--display-name", "reviewer", "--operator"], env=env, check=True,
                       capture_output=True)
        base = f"http://127.0.0.1:{port}"
        create, resume = [], []
        for i in range(WARMUP + samples):
            a, b = asyncio.run(_one(base, token, i))
            if i >= WARMUP:
                create.append(a)
                resume.append(b)
        return {"create_ms": create, "resume_ms": resume, "server_idle_rss_mb": idle_mb,
                "server_peak_rss_mb": _status_kb(proc.pid, "VmHWM") / 1024}
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]), Path(sys.argv[2]))))
