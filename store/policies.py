"""The policy versions that decided requests, kept with their exact rules.

A ticket records the ``policy_version`` it was decided under; this table keeps what that
version said, so an audit can show the rules, not only their name. A version is written once:
the same name with other rules is refused, since the trail could no longer tell which applied.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from store.db import now_of
from store.errors import ConfigError
from store.ledger import Ledger
from store.models import canonical_json
from store.tables import PolicyVersionRow


class PolicyVersion(BaseModel):
    model_config = ConfigDict(frozen=True)

    version: str
    digest: str
    policy: dict[str, Any]
    first_applied_at: datetime


class PolicyVersionReused(ConfigError):
    """``policy_version`` names rules that differ from the ones recorded under that name."""


def digest_of(policy: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(policy).encode()).hexdigest()


def apply_policy(ledger: Ledger, version: str, policy: dict[str, Any]) -> bool:
    """Record ``policy`` under ``version`` unless it is there already; ``True`` when new.
    Raises :class:`PolicyVersionReused` when the version holds other rules."""
    digest = digest_of(policy)
    insert = pg_insert if ledger.dialect == "postgresql" else sqlite_insert
    with ledger.transactions() as s:
        # Two processes starting together: one inserts, the other finds it (no error).
        added = s.execute(insert(PolicyVersionRow).values(
            version=version, digest=digest, policy=policy, first_applied_at=now_of(s),
        ).on_conflict_do_nothing(index_elements=["version"])
            .returning(PolicyVersionRow.version)).first() is not None
        row = None if added else s.get(PolicyVersionRow, version)
        first = row.first_applied_at if row is not None else None
        recorded = row.digest if row is not None else digest
    if not added:
        if recorded != digest:
            assert first is not None
            raise PolicyVersionReused(
                f"policy_version {version!r} was first applied on "
                f"{first:%Y-%m-%d %H:%M} UTC with other rules; tickets decided "
                "under it must keep meaning those rules. Fix: give the changed policy a new "
                "policy_version in signoff.yml (or remove policy_version to use a hash of the "
                "configuration)")
        return False
    ledger.record_event(None, "policy_applied", version=version, digest=digest)
    return True


def policy_version(ledger: Ledger, version: str) -> PolicyVersion | None:
    with ledger.transactions(write=False) as s:
        row = s.get(PolicyVersionRow, version)
        return None if row is None else PolicyVersion(
            version=row.version, digest=row.digest, policy=row.policy,
            first_applied_at=row.first_applied_at)


def policy_versions(ledger: Ledger) -> list[PolicyVersion]:
    with ledger.transactions(write=False) as s:
        rows = s.execute(select(PolicyVersionRow)
                         .order_by(PolicyVersionRow.first_applied_at)).scalars().all()
        return [PolicyVersion(version=r.version, digest=r.digest, policy=r.policy,
                              first_applied_at=r.first_applied_at) for r in rows]
