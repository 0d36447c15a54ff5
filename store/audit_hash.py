"""The audit trail's hashes: each event's, each seal's, and the key's public id.

Every hash is SHA-256 over canonical JSON, or an HMAC-SHA256 with ``SIGNOFF_AUDIT_KEY``.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any

from store.models import canonical_json

GENESIS = "0" * 64
FORMAT = 2  # chain_format of events written by this code (1: the old global-only chain)


def key_id(key: bytes | None) -> str | None:
    """A public name for a key (an HMAC of a constant): says which key wrote a hash."""
    if not key:
        return None
    return hmac.new(key, b"signoff audit key id", hashlib.sha256).hexdigest()[:16]


def digest(body: dict[str, Any], key: bytes | None) -> str:
    raw = canonical_json(body).encode("utf-8")
    if key:
        return hmac.new(key, raw, hashlib.sha256).hexdigest()
    return hashlib.sha256(raw).hexdigest()


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def event_hash(*, ticket_id: str | None, ticket_seq: int | None, kind: str, actor: str,
               at: datetime, data_json: str, prev_hash: str, key: bytes | None) -> str:
    """The hash of one event: its fields, its place in its ticket's chain, its key's id."""
    return digest({"v": FORMAT, "ticket_id": ticket_id, "ticket_seq": ticket_seq,
                    "kind": kind, "actor": actor, "at": iso(at), "data": data_json,
                    "prev_hash": prev_hash, "key_id": key_id(key)}, key)


def legacy_hash(*, seq: int, ticket_id: str | None, kind: str, actor: str, at: datetime,
                data_json: str, prev_hash: str, key: bytes | None) -> str:
    """The hash of an event written before per-ticket chains (``chain_format`` 1)."""
    return digest({"seq": seq, "ticket_id": ticket_id, "kind": kind, "actor": actor,
                    "at": iso(at), "data": data_json, "prev_hash": prev_hash}, key)


def row_hash(row: Any, key: bytes | None) -> str:
    """Recompute a stored event's hash (either format) from its columns."""
    if row.chain_format == 1:
        return legacy_hash(seq=row.seq, ticket_id=row.ticket_id, kind=row.kind,
                           actor=row.actor, at=row.at, data_json=row.data,
                           prev_hash=row.prev_hash, key=key)
    return event_hash(ticket_id=row.ticket_id, ticket_seq=row.ticket_seq, kind=row.kind,
                      actor=row.actor, at=row.at, data_json=row.data,
                      prev_hash=row.prev_hash, key=key)


def seal_hash(*, seal: int, seq: int, event_hash: str, sealed_at: datetime, prev: str,
              key: bytes | None) -> str:
    """One link of the global chain: the event's hash, its place, and the previous link."""
    return digest({"seal": seal, "seq": seq, "hash": event_hash, "sealed_at": iso(sealed_at),
                   "prev": prev}, key)
