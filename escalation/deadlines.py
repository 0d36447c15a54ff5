"""Deadlines for a new ticket, from its on-call chain, fixed at creation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from escalation.chains import chain_length, effective_expiry, plan
from escalation.config import Chain, SignoffConfig
from escalation.config_checks import DEFAULT_ROUTE
from escalation.config_errors import Finding
from escalation.durations import format_duration

#: Without a chain or an expire_after, a request still never waits forever.
FALLBACK_EXPIRY = timedelta(hours=1)


@dataclass(frozen=True)
class Deadlines:
    expires_at: datetime
    next_action_at: datetime | None
    snapshot: dict[str, Any] | None


def deadlines(config: SignoffConfig, chain: str | None, *, created_at: datetime,
              expire_after: timedelta | None) -> Deadlines:
    """When the ticket expires, when the sweep first looks at it, and the chain snapshot."""
    if chain is None:
        return Deadlines(created_at + (expire_after or FALLBACK_EXPIRY), None, None)
    fixed = plan(config.chain(chain), created_at=created_at, schedules=config.schedules,
                 expire_override=expire_after, name=chain)
    return Deadlines(fixed.expires_at, fixed.next_action_at, fixed.snapshot)


def ends_first(chain: Chain, expire_after: timedelta | None = None) -> timedelta | None:
    """The chain's length when the chain ends before ``expire_after`` (a rule's, else the
    chain's own), which is then the real deadline; ``None`` when ``expire_after`` holds."""
    length = chain_length(chain)
    return length if length is not None and length < (expire_after or chain.expire_after) else None


def expiry_text(chain_name: str, chain: Chain, expire_after: timedelta | None = None) -> str:
    """The real deadline as commands show it: ``40m (chain payments-oncall ends first;
    expire_after 1h)``, or just ``1h``."""
    real = format_duration(effective_expiry(chain, expire_after))
    if ends_first(chain, expire_after) is None:
        return real
    hard = format_duration(expire_after or chain.expire_after)
    return f"{real} (chain {chain_name} ends first; expire_after {hard})"


def expiry_findings(config: SignoffConfig) -> list[Finding]:
    """Warnings (not errors) for every expire_after that the end of a chain pre-empts."""
    found = []
    for name, chain in config.chains.items():
        if (length := ends_first(chain)) is not None:
            found.append(_preempted(("chains", name, "expire_after"), name, chain, length,
                                    chain.expire_after))
    for index, rule in enumerate(config.policy.rules):
        if rule.decide != "require_approval" or rule.expire_after is None:
            continue
        chain_name = config.routes[rule.route or DEFAULT_ROUTE].chain
        chain = config.chains[chain_name]
        if (length := ends_first(chain, rule.expire_after)) is not None:
            found.append(_preempted(("policy", "rules", index, "expire_after"), chain_name,
                                    chain, length, rule.expire_after))
    return found


def _preempted(path: tuple[str | int, ...], name: str, chain: Chain, length: timedelta,
               hard: timedelta) -> Finding:
    loops = f" x {chain.loops} passes" if chain.loops > 1 else ""
    return Finding(path,
                   f"chain {name} ends {format_duration(length)} after the request (its "
                   f"levels' after delays{loops}, plus one first-level wait), before "
                   f"expire_after {format_duration(hard)}: requests on it expire "
                   f"{format_duration(length)} after they are made",
                   f"write expire_after: {format_duration(length)} to say so, or lengthen the "
                   f"levels (or add loops) to keep {format_duration(hard)}")
