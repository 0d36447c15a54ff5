"""``signoff delegate U1 --to U2 --until …``, ``signoff delegate list``,
``signoff delegate revoke ID``: out-of-office delegation of a reviewer's authority."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, date, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.commands.store_cmds import open_ledger
from escalation.durations import DurationError, parse_duration
from store.delegations import Delegation, DelegationStore, user_id
from store.errors import DelegationInvalid

USAGE = ("signoff delegate U1 --to U2 --until TIME [--tz ZONE] | signoff delegate list "
         "[--user U] [--all] | signoff delegate revoke ID")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "delegate", usage=USAGE,
        help="lend a reviewer's authority to someone while they are away; list; revoke",
        description="While a delegation is active the delegate may decide what the principal "
                    "could, recorded with both names; never their own requests, never twice "
                    "in a two-person rule, never passed on.")
    p.add_argument("words", nargs="+", metavar="U1 | list | revoke ID")
    p.add_argument("--to", metavar="U2", help="the delegate's Slack member id")
    p.add_argument("--until", metavar="TIME",
                   help="an ISO time (2026-12-24T18:00Z; without a zone, in --tz), a date "
                        "(midnight in --tz), or a duration from now (3d, 12h)")
    p.add_argument("--tz", metavar="ZONE", default="UTC",
                   help="the time zone of a --until date or time written without one, e.g. "
                        "Europe/Paris (IANA name; default UTC)")
    p.add_argument("--reason", help="why (audited), e.g. holiday")
    p.add_argument("--by", default="operator", help="who is making the change (audited)")
    p.add_argument("--user", help="list: only delegations this person gave or holds")
    p.add_argument("--all", action="store_true", help="list: include ended and revoked ones")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_delegate)


def cmd_delegate(args: argparse.Namespace) -> int:
    now = datetime.now(UTC)  # read once; every check below is at this instant
    first, rest = args.words[0], args.words[1:]
    if first == "list" and not rest:
        return _list(args, now)
    if first == "revoke":
        if len(rest) != 1 or not rest[0].isdigit():
            raise DelegationInvalid("revoke needs one delegation id, e.g. `signoff delegate "
                                    "revoke 12` (see `signoff delegate list`)")
        return _revoke(args, int(rest[0]), now)
    if rest:
        raise DelegationInvalid(f"unexpected {' '.join(rest)!r}; usage: {USAGE}")
    if not args.to or not args.until:
        raise DelegationInvalid(f"delegating {first} needs --to U2 and --until TIME "
                                "(e.g. --until 3d)")
    until = until_of(args.until, now, zone_of(args.tz))  # a bad value opens nothing
    ledger = open_ledger(args)
    try:
        made = DelegationStore(ledger).delegate(first, args.to, until=until, at=now, by=args.by,
                                                reason=args.reason)
    finally:
        ledger.close()
    print(f"delegation {made.id}: {made.delegate} decides for {made.principal} until "
          f"{made.ends_at:%Y-%m-%d %H:%M} UTC (revoke: signoff delegate revoke {made.id})")
    return 0


def zone_of(name: str) -> tzinfo:
    """``--tz``: an IANA time zone name."""
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise DelegationInvalid(f"--tz {name!r} is not a time zone; write an IANA name such "
                                "as Europe/Paris, America/New_York or UTC") from None


def until_of(text: str, now: datetime, zone: tzinfo = UTC) -> datetime:
    """``--until``: an ISO time, a date, or a duration counted from ``now``; a date or time
    written without a zone is read in ``zone``."""
    spec = text.strip()
    try:
        return now + parse_duration(spec)
    except DurationError:
        pass
    try:
        when = datetime.fromisoformat(spec.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        try:
            when = datetime.combine(date.fromisoformat(spec), datetime.min.time())
        except ValueError:
            raise DelegationInvalid(
                f"--until {text!r} is neither a time nor a duration; write an ISO time "
                "(2026-12-24T18:00Z), a date (2026-12-24) or a duration (3d, 12h)") from None
    return (when.replace(tzinfo=zone) if when.tzinfo is None else when).astimezone(UTC)


def _list(args: argparse.Namespace, now: datetime) -> int:
    user = user_id(args.user, "--user") if args.user else None
    ledger = open_ledger(args)
    try:
        found = DelegationStore(ledger).listing(at=now, user=user, ended=args.all)
    finally:
        ledger.close()
    if args.json:
        print(json.dumps([d.model_dump(mode="json") for d in found], indent=2))
        return 0
    if not found:
        print("no delegations" + ("" if args.all else " in force (--all shows ended ones)"))
    for d in found:
        print(_line(d, now))
    return 0


def _line(d: Delegation, now: datetime) -> str:
    state = ("revoked" if d.revoked_at else "active" if d.active(now)
             else "ended" if d.ends_at <= now else "scheduled")
    why = f" · {d.reason}" if d.reason else ""
    return (f"{d.id:>5}  {d.principal} → {d.delegate}  until {d.ends_at:%Y-%m-%d %H:%M} UTC  "
            f"{state}  (by {d.created_by}){why}")


def _revoke(args: argparse.Namespace, delegation_id: int, now: datetime) -> int:
    ledger = open_ledger(args)
    try:
        ended = DelegationStore(ledger).revoke(delegation_id, at=now, by=args.by)
    finally:
        ledger.close()
    print(f"delegation {ended.id} revoked: {ended.delegate} no longer decides for "
          f"{ended.principal}")
    return 0
