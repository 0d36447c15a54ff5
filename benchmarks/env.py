"""What every scenario shares: sizes, the workspace and signoff.yml, and databases."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from bot.sandbox import Channel, User, Workspace
from store.db import migrate_url, scratch_schema

PG_ENV = "SIGNOFF_TEST_POSTGRES_URL"
SECRET = "bench-signing-secret"
CHANNEL = "C0BENCH"
REQUESTER = "U0BENCHREQ"
REVIEWER = "U0BENCHREV"
ONCALL = "U0BENCHONCALL"
ACTION = "issue_refund"

CONFIG_YAML = f"""\
version: 1
policy_version: "bench-1"
sweep_every: 15s
reviewers:
  bench: [{REVIEWER}]
routes:
  default:
    channel: {CHANNEL}
    approvers: bench
    chain: bench
chains:
  bench:
    levels:
      - notify: [{ONCALL}]
        after: 1h
    remind_every: 30m
    expire_after: 4h
policy:
  default: require_approval
  rules:
    - action: {ACTION}
      decide: require_approval
      tier: high
      route: default
"""


@dataclass(frozen=True)
class Size:
    name: str
    ack_rounds: dict[int, int]
    """concurrency → number of bursts of that many clicks"""
    overhead_samples: int
    resume_samples: int
    sweep_due: int
    sweep_pending: tuple[int, int]
    sweep_repeats: int
    memory_pending: int
    peers: bool
    peer_samples: int
    many_agents: tuple[int, ...] = (1, 4)
    """agent processes of each ``many_agents`` case"""
    many_seconds: float = 2.0
    """how long each ``many_agents`` case's agents loop"""


SIZES = {
    "tiny": Size("tiny", {1: 20, 10: 2, 50: 1}, 30, 10, 20, (200, 2_000), 8, 2_000,
                 False, 10),
    "full": Size("full", {1: 200, 10: 20, 50: 10}, 300, 200, 1_000, (10_000, 100_000), 8,
                 100_000, True, 100, (1, 8, 16), 25.0),
}


def workspace() -> Workspace:
    people = {REQUESTER: "requester", REVIEWER: "reviewer", ONCALL: "oncall"}
    return Workspace(users=[User(uid, name, name.title(), f"{name}@example.com")
                            for uid, name in people.items()],
                     channels=[Channel(CHANNEL, "bench-approvals")])


@dataclass
class Bench:
    """Settings of one run, handed to every scenario."""

    size: Size
    workdir: Path
    postgres_url: str | None

    @property
    def config_path(self) -> Path:
        path = self.workdir / "signoff.yml"
        if not path.exists():
            path.write_text(CONFIG_YAML)
        return path

    def backends(self) -> list[str]:
        return ["sqlite", "postgresql"] if self.postgres_url else ["sqlite"]

    @contextmanager
    def database(self, backend: str) -> Iterator[str]:
        """A migrated, empty database of ``backend``; gone afterwards."""
        if backend == "sqlite":
            with tempfile.TemporaryDirectory(dir=self.workdir) as tmp:
                url = f"sqlite:///{Path(tmp) / 'signoff.db'}"
                migrate_url(url)
                yield url
            return
        assert self.postgres_url is not None, "no PostgreSQL URL"
        with pg_schema(self.postgres_url) as url:
            migrate_url(url)
            yield url


PG_SKIP_NOTE = (f"PostgreSQL cases skipped: pass --postgres-url or set {PG_ENV} "
                "(e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)")


def pg_schema(base: str) -> AbstractContextManager[str]:
    """A throw-away schema: every connection of the returned URL lands in it."""
    return scratch_schema(base, prefix="bench")


def postgres_url(cli_value: str | None) -> str | None:
    return cli_value or os.environ.get(PG_ENV) or None
