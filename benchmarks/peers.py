"""Running a peer's own benchmark script in its own virtualenv (created on first use)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PEERS_DIR = Path(os.environ.get("SIGNOFF_BENCH_PEERS", tempfile.gettempdir())) / "signoff-peers"
INSTALL_TIMEOUT_S = 900
RUN_TIMEOUT_S = 900


@dataclass(frozen=True)
class Peer:
    name: str
    requirements: tuple[str, ...]
    script: str
    probe: str
    """A module whose import proves the install worked."""

    @property
    def venv(self) -> Path:
        return PEERS_DIR / self.name

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"


LANGGRAPH = Peer("langgraph", ("langgraph", "langgraph-checkpoint-sqlite"),
                 "peer_langgraph.py", "langgraph.checkpoint.sqlite")
AWAITHUMANS = Peer("awaithumans", ("awaithumans[server]==0.1.12",), "peer_awaithumans.py",
                   "awaithumans.server.app")


class PeerUnavailable(Exception):
    pass


def ensure(peer: Peer) -> None:
    """Create the peer's virtualenv and install it, unless that was done before."""
    if _importable(peer):
        return
    try:
        if not peer.python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(peer.venv)], check=True,
                           capture_output=True, timeout=INSTALL_TIMEOUT_S)
        subprocess.run([str(peer.python), "-m", "pip", "install", "-q", *peer.requirements],
                       check=True, capture_output=True, timeout=INSTALL_TIMEOUT_S)
    except (subprocess.SubprocessError, OSError) as exc:
        raise PeerUnavailable(f"could not install {' '.join(peer.requirements)}: "
                              f"{_why(exc)}") from exc
    if not _importable(peer):
        raise PeerUnavailable(f"{peer.probe} does not import after installing")


def _importable(peer: Peer) -> bool:
    if not peer.python.exists():
        return False
    done = subprocess.run([str(peer.python), "-c", f"import {peer.probe}"],
                          capture_output=True, timeout=120)
    return done.returncode == 0


def run(peer: Peer, *args: str) -> dict[str, Any]:
    """Run the peer's script; it prints one JSON document."""
    ensure(peer)
    try:
        done = subprocess.run([str(peer.python), str(HERE / peer.script), *args],
                              capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
                              check=True)
    except (subprocess.SubprocessError, OSError) as exc:
        raise PeerUnavailable(f"{peer.script} failed: {_why(exc)}") from exc
    doc: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return doc


def _why(exc: BaseException) -> str:
    if isinstance(exc, subprocess.CalledProcessError):
        tail = (exc.stderr or b"")
        text = tail.decode(errors="replace") if isinstance(tail, bytes) else tail
        return text.strip().splitlines()[-1] if text.strip() else str(exc)
    return str(exc)
