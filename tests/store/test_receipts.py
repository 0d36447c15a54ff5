"""Approval receipts: signed with the stored Ed25519 key, refused when they do not fit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest

from bot import receipts
from bot.receipts import ReceiptInvalid, verify
from store.agents import AgentStore
from store.ledger import Ledger
from tests.conftest import TicketFactory

ARGS = {"amount": 120, "customer": "cus_42"}


def _signed(ticket_factory: TicketFactory, *, kid: str, pem: str, now: datetime,
            passphrase: bytes | None = None, ttl: timedelta = receipts.DEFAULT_TTL) -> str:
    ticket = ticket_factory(args=ARGS)
    return receipts.issue(ticket, kid=kid, private_pem=pem, agent="refund-bot", now=now,
                          ttl=ttl, passphrase=passphrase)


def test_expired_and_foreign_receipts_are_refused(make_ticket: TicketFactory) -> None:
    kid, pem, public = receipts.generate_key()
    token = _signed(make_ticket, kid=kid, pem=pem, now=datetime.now(UTC) - timedelta(minutes=6))
    with pytest.raises(ReceiptInvalid) as expired:
        verify(token, action="issue_refund", args=ARGS, keys={"keys": [public]})
    assert expired.value.code == "expired"
    # Another installation's key, published under the same kid: the signature fails.
    _, _, foreign = receipts.generate_key()
    fresh = _signed(make_ticket, kid=kid, pem=pem, now=datetime.now(UTC))
    with pytest.raises(ReceiptInvalid) as forged:
        verify(fresh, action="issue_refund", args=ARGS, keys=[{**foreign, "kid": kid}])
    assert forged.value.code == "bad_signature"
    with pytest.raises(ReceiptInvalid) as unknown:
        verify(fresh, action="issue_refund", args=ARGS, keys=[foreign])
    assert unknown.value.code == "unknown_key"
    # Any JWT library verifies it with the published key.
    claims = jwt.decode(fresh, jwt.PyJWK(public).key, algorithms=["EdDSA"], issuer="signoff")
    assert claims["action"] == "issue_refund"


def test_rotation_keeps_old_receipts_valid_until_the_key_is_retired(
        ledger: Ledger, make_ticket: TicketFactory) -> None:
    store = AgentStore(ledger)
    old_kid, old_pem, old_pub = receipts.generate_key(b"s3cret")
    store.add_key(old_kid, old_pem, old_pub)
    assert "ENCRYPTED" in store.signing_keys()[0].private_pem
    token = _signed(make_ticket, kid=old_kid, pem=old_pem, now=datetime.now(UTC),
                    passphrase=b"s3cret")
    new_kid, new_pem, new_pub = receipts.generate_key()
    store.add_key(new_kid, new_pem, new_pub)
    keys = store.signing_keys()
    assert [(k.kid, k.active) for k in keys] == [(new_kid, True), (old_kid, False)]
    jwks = receipts.jwks([k.public_jwk for k in keys])
    assert verify(token, action="issue_refund", args=ARGS, keys=jwks)["sub"]
    store.retire_key(old_kid)
    jwks = receipts.jwks([k.public_jwk for k in store.signing_keys()])
    with pytest.raises(ReceiptInvalid):
        verify(token, action="issue_refund", args=ARGS, keys=jwks)
    kinds = [e.kind for e in ledger.audit_events() if e.ticket_id is None]
    assert kinds == ["key_rotated", "key_rotated", "key_retired"]
