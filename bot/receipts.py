"""Approval receipts: enforcement that does not trust the agent.

When an agent claims an approved execution, ``signoff serve`` hands it a receipt: a JWT
signed with Ed25519 (``EdDSA``) that names the ticket, the action, the SHA-256 of the
approved arguments in canonical JSON (sorted keys, no spaces, UTF-8), who approved, under
which policy version, and a short expiry. The tool service that finally acts checks it
offline, with the keys published at ``GET /v1/keys``::

    from bot.receipts import verify
    claims = verify(token, action="issue_refund", args=request_args, keys=jwks)

Any JWT library works too: check ``alg`` is ``EdDSA``, ``iss`` is ``signoff``, ``exp``, and
compare ``action`` and ``args_sha256`` with what you are about to do.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

from store.errors import ReceiptInvalid
from store.models import Ticket, args_hash

ISSUER = "signoff"
ALGORITHM = "EdDSA"
DEFAULT_TTL = timedelta(minutes=5)

__all__ = ["ReceiptInvalid", "decode", "generate_key", "issue", "jwks", "verify"]


def generate_key(passphrase: bytes | None = None) -> tuple[str, str, dict[str, Any]]:
    """A new Ed25519 key: ``(kid, private PKCS#8 PEM, public JWK)``."""
    private = Ed25519PrivateKey.generate()
    kid = "k" + secrets.token_hex(8)
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase) if passphrase
        else serialization.NoEncryption())
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                encryption).decode()
    public: dict[str, Any] = json.loads(OKPAlgorithm.to_jwk(private.public_key()))
    public.update(kid=kid, alg=ALGORITHM, use="sig")
    return kid, pem, public


class KeyUnusable(Exception):
    """The stored signing key cannot be loaded (wrong passphrase, damaged PEM)."""


def signer(kid: str, private_pem: str, passphrase: bytes | None = None) -> tuple[str, Any]:
    """``(kid, key)`` ready to sign with: loaded before an approval is consumed, so a key
    that cannot be used fails the claim before it happens, not after."""
    try:
        key = serialization.load_pem_private_key(private_pem.encode(), password=passphrase)
    except (ValueError, TypeError) as exc:
        raise KeyUnusable(f"receipt signing key {kid} cannot be loaded: {exc}") from exc
    return kid, key


def issue(ticket: Ticket, *, kid: str, private_pem: str, agent: str, now: datetime,
          ttl: timedelta = DEFAULT_TTL, passphrase: bytes | None = None) -> str:
    """The receipt for executing ``ticket`` (its final, approved arguments)."""
    return sign(ticket, signer(kid, private_pem, passphrase), agent=agent, now=now, ttl=ttl)


def sign(ticket: Ticket, key: tuple[str, Any], *, agent: str, now: datetime,
         ttl: timedelta = DEFAULT_TTL) -> str:
    """:func:`issue` with a key :func:`signer` loaded."""
    kid, private = key
    claims = {
        "iss": ISSUER, "sub": ticket.id, "jti": secrets.token_hex(16),
        "iat": int(now.timestamp()), "exp": int((now + ttl).timestamp()),
        "action": ticket.action, "args_sha256": ticket.final_args_hash,
        "approvers": list(ticket.approvals) or [ticket.decided_by or ""],
        "policy_version": ticket.policy_version, "agent": agent,
    }
    return jwt.encode(claims, private, algorithm=ALGORITHM, headers={"kid": kid})


def jwks(public_keys: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {"keys": [dict(k) for k in public_keys]}


def verify(token: str, *, action: str, args: Mapping[str, Any],
           keys: Mapping[str, Any] | Sequence[Mapping[str, Any]],
           leeway: float = 0.0) -> dict[str, Any]:
    """The receipt's claims, if it allows running ``action`` with exactly ``args``.

    ``keys`` is the JWKS from ``GET /v1/keys`` (or its list of keys). Refuses a receipt
    signed by a key not in ``keys``, an expired one, one for another action and one for
    other arguments, with :class:`ReceiptInvalid`.
    """
    claims = decode(token, keys=keys, leeway=leeway)
    if claims.get("action") != action:
        raise ReceiptInvalid("wrong_action",
                             f"it approves {claims.get('action')!r}, not {action!r}")
    if claims.get("args_sha256") != args_hash(dict(args)):
        raise ReceiptInvalid("wrong_arguments",
                             "these arguments are not the ones that were approved")
    return claims


def decode(token: str, *, keys: Mapping[str, Any] | Sequence[Mapping[str, Any]],
           leeway: float = 0.0) -> dict[str, Any]:
    """The claims of a receipt signed by one of ``keys`` and not expired (nothing else
    checked: :func:`verify` also compares action and arguments)."""
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.InvalidTokenError as exc:
        raise ReceiptInvalid("malformed", str(exc)) from None
    found = [k for k in _key_list(keys) if k.get("kid") == kid]
    if not found:
        raise ReceiptInvalid("unknown_key", f"no key {kid!r} among the trusted keys")
    try:
        public = _public_key(json.dumps(dict(found[0]), sort_keys=True))
        claims: dict[str, Any] = jwt.decode(
            token, public, algorithms=[ALGORITHM], issuer=ISSUER, leeway=leeway,
            options={"require": ["exp", "iat", "jti", "sub", "iss"]})
    except jwt.ExpiredSignatureError:
        raise ReceiptInvalid("expired", "the receipt has expired") from None
    except jwt.PyJWTError as exc:  # bad signature, claims or key
        raise ReceiptInvalid("bad_signature", str(exc)) from None
    return claims


@lru_cache(maxsize=64)
def _public_key(jwk: str) -> jwt.PyJWK:
    """Parsed once per key: a tool service verifies many receipts with few keys."""
    return jwt.PyJWK(json.loads(jwk), algorithm=ALGORITHM)


def _key_list(keys: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    if isinstance(keys, Mapping):
        listed = keys.get("keys", [keys])
        return list(listed)
    return list(keys)
