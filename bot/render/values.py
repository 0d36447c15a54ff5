"""Argument values for display: secrets masked, depth bounded, JSON-safe.

Masking happens here and only here; every surface goes through ``Redactor`` so a secret
never reaches a card, a modal, a diff, the "Show all" view or a fallback text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from itertools import pairwise
from typing import Any

from pydantic import BaseModel

from bot.render.text import ELLIPSIS, code_inline_flag, esc_flag, escape, safe_prefix, slen
from store.models import Ticket

MASK = "••••••"
MAX_DEPTH = 32

_SECRET_WORDS = frozenset(
    {
        "password", "passwd", "pwd", "passphrase", "secret", "secrets", "token", "apikey",
        "authorization", "auth", "credential", "credentials", "ssn", "cvv", "cvc", "cookie",
        "privatekey", "otp",
    }
)
_SECRET_PAIRS = frozenset(
    {
        "api_key", "private_key", "access_key", "secret_key", "card_number", "credit_card",
        "cc_number", "security_code", "social_security", "account_number", "routing_number",
    }
)
_CAMEL_RE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SPLIT_RE = re.compile(r"[^a-z0-9]+")


def is_secret_key(key: str, masked: frozenset[str] = frozenset()) -> bool:
    """Whether an argument name is a secret: listed in ``masked`` or named like one."""
    if key in masked:
        return True
    parts = [p for p in _SPLIT_RE.split(_CAMEL_RE.sub("_", key).lower()) if p]
    if any(p in _SECRET_WORDS for p in parts):
        return True
    return any(f"{a}_{b}" in _SECRET_PAIRS for a, b in pairwise(parts))


def schema_secrets(schema: Mapping[str, Any] | None) -> frozenset[str]:
    """Arguments the tool's JSON Schema marks secret (``writeOnly``, ``format: password``,
    ``secret: true``, as ``SecretStr`` and ``Field(json_schema_extra={"secret": True})`` do)."""
    props = schema.get("properties") if schema else None
    if not isinstance(props, Mapping):
        return frozenset()
    return frozenset(name for name, prop in props.items() if marked_secret(prop))


def marked_secret(prop: Any) -> bool:
    """Whether one property of a JSON Schema is marked secret (any mark counts: masking
    more is the safe side)."""
    if not isinstance(prop, Mapping):
        return False
    variants = [prop, *(v for v in prop.get("anyOf", ()) if isinstance(v, Mapping))]
    return any(
        bool(v.get("writeOnly")) or v.get("format") == "password" or bool(v.get("secret"))
        for v in variants
    )


def to_plain(value: Any, depth: int = 0) -> Any:
    """A JSON-compatible copy of ``value`` (nesting beyond ``MAX_DEPTH`` is cut off)."""
    if depth > MAX_DEPTH:
        return ELLIPSIS
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else str(value)
    if isinstance(value, Mapping):
        return {str(k): to_plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_plain(v, depth + 1) for v in value]
    if isinstance(value, Enum):
        return to_plain(value.value, depth + 1)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, BaseModel):
        return to_plain(value.model_dump(mode="json"), depth + 1)
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if isinstance(value, Decimal):
        return str(value)
    return str(value)


class Redactor:
    """Masks secrets for one ticket: secret keys at any depth, and their values in free text."""

    @classmethod
    def for_ticket(cls, ticket: Ticket, masked: frozenset[str] = frozenset()) -> Redactor:
        """``masked`` plus what the ticket's argument schema marks secret."""
        return cls(masked | schema_secrets(ticket.args_schema), ticket.args, ticket.final_args)

    def __init__(self, masked: frozenset[str], *sources: Mapping[str, Any]) -> None:
        self.masked = masked
        found: set[str] = set()
        for source in sources:
            self._collect(source, found, 0)
        # Longest first, so a secret that contains another is replaced whole.
        self._values = sorted(found, key=len, reverse=True)

    def is_secret(self, key: str) -> bool:
        return is_secret_key(key, self.masked)

    def _collect(self, value: Any, found: set[str], depth: int) -> None:
        if depth > MAX_DEPTH:
            return
        if isinstance(value, Mapping):
            for k, v in value.items():
                if self.is_secret(str(k)):
                    found.update(s for s in _strings(v, depth) if len(s) >= 4)
                else:
                    self._collect(v, found, depth + 1)
        elif isinstance(value, list | tuple):
            for v in value:
                self._collect(v, found, depth + 1)

    def value(self, value: Any, depth: int = 0) -> Any:
        """``to_plain`` with every value under a secret key replaced by the mask."""
        if depth > MAX_DEPTH:
            return ELLIPSIS
        if isinstance(value, Mapping):
            return {
                str(k): MASK if self.is_secret(str(k)) else self.value(v, depth + 1)
                for k, v in value.items()
            }
        if isinstance(value, list | tuple | set | frozenset):
            return [self.value(v, depth + 1) for v in value]
        if isinstance(value, BaseModel):
            return self.value(value.model_dump(mode="json"), depth + 1)
        return to_plain(value, depth)

    def arg(self, key: str, value: Any) -> Any:
        """One top-level argument, masked if its name is a secret."""
        return MASK if self.is_secret(key) else self.value(value)

    def text(self, text: str | None) -> str:
        """Free text (summary, reason, evidence) with any secret value blotted out."""
        if not text:
            return ""
        for secret in self._values:
            if secret in text:
                text = text.replace(secret, MASK)
        return text


def _strings(value: Any, depth: int) -> Iterator[str]:
    if depth > MAX_DEPTH:
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        yield str(value)
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from _strings(v, depth + 1)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _strings(v, depth + 1)


def json_text(value: Any, *, indent: int | None = 2) -> str:
    """JSON for people to read (already-plain values; unicode kept)."""
    try:
        return json.dumps(value, indent=indent, ensure_ascii=False, default=str)
    except (RecursionError, ValueError):
        return str(value)


def inline(value: Any, limit: int) -> tuple[str, bool]:
    """A plain (already masked) value as short mrkdwn, and whether it was shortened."""
    if value is None:
        return "_none_", False
    if isinstance(value, bool):
        return ("`true`" if value else "`false`"), False
    if isinstance(value, str):
        if value == MASK:
            return MASK, False
        if not value.strip():
            return f"_blank ({len(value)} characters)_" if value else "_empty_", False
        return esc_flag(value, limit)
    return code_inline_flag(json_text(value, indent=None), limit)


def code_chunks(text: str, limit: int) -> list[str]:
    """``text`` as consecutive mrkdwn code blocks, each at most ``limit`` long."""
    room = limit - 8  # the fences and their newlines
    text = text.replace("```", "``\u200b`")
    chunks: list[str] = []
    current: list[str] = []
    used = 0
    for line in text.split("\n"):
        for piece in _pieces(escape(line) or " ", room):
            cost = slen(piece) + (1 if current else 0)
            if current and used + cost > room:
                chunks.append("\n".join(current))
                current, used = [], 0
                cost = slen(piece)
            current.append(piece)
            used += cost
    if current:
        chunks.append("\n".join(current))
    return [f"```\n{c}\n```" for c in chunks]


def _pieces(line: str, room: int) -> Iterator[str]:
    """Split one escaped line into parts of at most ``room`` units, never inside an entity."""
    while slen(line) > room:
        head = safe_prefix(line, room) or line[:1]
        yield head
        line = line[len(head):]
    yield line
