"""Checkpoints: the global chain's head, signed and kept where the database cannot reach.

A checkpoint says "seal N had hash H at time T". Written to an append-only file (one JSON
line each) and optionally to a Slack audit channel, it anchors the chain: whoever later
deletes or rewrites sealed events up to N (a rewound or wiped tail) cannot make seal N have
hash H again. With ``SIGNOFF_AUDIT_KEY`` the line carries an HMAC, so the file cannot be
edited to match a rewritten database either.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from store.audit_hash import key_id
from store.audit_verify import Problem, VerifyReport
from store.errors import CheckpointInvalid
from store.models import canonical_json
from store.tables import AuditRow

VERSION = 1


class Checkpoint(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    v: int = VERSION
    seal: int
    """The newest seal when the checkpoint was taken (0: nothing sealed yet)."""
    hash: str
    at: datetime
    """The database's clock when it was taken."""
    database: str
    key_id: str | None
    sig: str | None = None

    def body(self) -> bytes:
        return canonical_json(self.model_dump(mode="json", exclude={"sig"})).encode("utf-8")

    def signed(self, key: bytes | None) -> Checkpoint:
        if not key:
            return self
        return self.model_copy(update={"sig": hmac.new(key, self.body(),
                                                       hashlib.sha256).hexdigest()})

    def line(self) -> str:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True)


def parse_lines(text: str, *, source: str) -> list[Checkpoint]:
    """Checkpoints from a JSON-lines file; a bad line names the file and line."""
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append(Checkpoint.model_validate(json.loads(line)))
        except (ValueError, ValidationError) as exc:
            raise CheckpointInvalid(f"{source}, line {number}: not a signoff audit checkpoint "
                                    f"({str(exc).splitlines()[0]})") from None
    return out


def check(session: Session, checkpoints: Sequence[Checkpoint], *, key: bytes | None,
          report: VerifyReport) -> None:
    """Each checkpoint's seal must still be in the chain with the same hash."""
    mine = key_id(key)
    for number, cp in enumerate(checkpoints, start=1):
        if cp.sig is not None and key is None:
            report.key_missing = (f"checkpoint {number} is signed with SIGNOFF_AUDIT_KEY "
                                  f"(key id {cp.key_id}), which is not set here; set it to verify")
            return
        problem = _signature_problem(cp, key, mine) or _chain_problem(session, cp)
        if problem:
            report.add(Problem(f"checkpoint {number} (seal {cp.seal}, taken "
                               f"{cp.at.isoformat()}): {problem}", seal=cp.seal or None))
        else:
            report.checkpoints += 1


def _signature_problem(cp: Checkpoint, key: bytes | None, mine: str | None) -> str | None:
    if cp.sig is None:
        return None if key is None else "it is not signed, but SIGNOFF_AUDIT_KEY is set"
    if cp.key_id != mine:
        return f"it was signed with key id {cp.key_id}; SIGNOFF_AUDIT_KEY has id {mine}"
    expected = cp.signed(key).sig or ""
    if not hmac.compare_digest(expected, cp.sig):
        return "its signature does not match: the checkpoint line was edited"
    return None


def _chain_problem(session: Session, cp: Checkpoint) -> str | None:
    if cp.seal == 0:
        return None
    found: Any = session.execute(select(AuditRow.seal_hash).where(AuditRow.seal == cp.seal)
                                 ).one_or_none()
    if found is None:
        top = session.execute(select(AuditRow.seal).where(AuditRow.seal.is_not(None))
                              .order_by(AuditRow.seal.desc()).limit(1)).scalar_one_or_none()
        return (f"that seal is no longer in the chain, which now ends at seal {top or 0}: "
                "the trail was rewound or wiped after the checkpoint")
    if found.seal_hash != cp.hash:
        return ("that seal now has another hash: the trail up to it was rewritten after "
                "the checkpoint")
    return None
