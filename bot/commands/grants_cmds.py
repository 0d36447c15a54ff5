"""``signoff grants list|revoke``: standing grants, active and past, and stopping one."""

from __future__ import annotations

import argparse
import json

from bot.commands.store_cmds import open_ledger
from bot.slack.grant_checks import announce_revoked
from bot.slack.webapi import WebApi, make_web_client
from store.grant_store import GrantStore
from store.grants import Grant


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    grants = sub.add_parser("grants", help="standing grants: approvals of similar requests "
                                           "for a while")
    gsub = grants.add_subparsers(dest="grants_cmd", required=True)
    p = gsub.add_parser("list", help="grants, newest first: active, expired, used up, "
                                     "revoked, each with its uses")
    p.add_argument("--active", action="store_true", help="only grants that still approve")
    p.add_argument("--limit", type=int, default=200)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_grants_list)
    p = gsub.add_parser("revoke", help="stop a grant now: it approves nothing more")
    p.add_argument("grant_id", metavar="ID")
    p.add_argument("--by", default="cli", metavar="WHO",
                   help="who revokes it, for the audit trail (default: cli)")
    p.set_defaults(func=cmd_grants_revoke)


def cmd_grants_list(args: argparse.Namespace) -> int:
    ledger = open_ledger(args)
    try:
        grants = GrantStore(ledger).listed(limit=args.limit)
        now = ledger.db_now()
    finally:
        ledger.close()
    for g in grants:
        state = g.state(now)
        if args.active and state != "active":
            continue
        if args.json:
            print(json.dumps({**g.model_dump(mode="json"), "state": state}))
        else:
            print(_line(g, state))
    return 0


def _line(g: Grant, state: str) -> str:
    bounds = "; ".join(b.describe(k) for k, b in g.bounds.items())
    until = (f"revoked {g.revoked_at.isoformat(timespec='seconds')} by {g.revoked_by}"
             if g.revoked_at else f"until {g.expires_at.isoformat(timespec='seconds')}"
             + (f" (end of day in {g.zone})" if g.zone else ""))
    return (f"{g.id}  {state:<8} {g.uses}/{g.max_uses} used  {g.action} for "
            f"{g.requested_by}" + (f" via {g.agent}" if g.agent else "")
            + f" on {g.route}  granted by {g.granted_by} "
            + (f"on behalf of {g.on_behalf_of} (while delegation {g.delegation} lasts) "
               if g.on_behalf_of else "")
            + f"{g.granted_at.isoformat(timespec='seconds')}, {until}  [{bounds}]")


def cmd_grants_revoke(args: argparse.Namespace) -> int:
    ledger = open_ledger(args)
    try:
        store = GrantStore(ledger)
        was_active = store.get(args.grant_id).revoked_at is None
        g = store.revoke(args.grant_id, actor=args.by)
        token = args.settings.slack_bot_token
        if was_active and token is not None:  # said in the grant's thread (best effort)
            slack = make_web_client(token.get_secret_value(), args.settings.slack_api_url)
            announce_revoked(WebApi(slack, ledger), g)
    finally:
        ledger.close()
    assert g.revoked_at is not None
    print(f"grant {g.id} revoked at {g.revoked_at.isoformat(timespec='seconds')} by "
          f"{g.revoked_by} after {g.uses} of {g.max_uses} uses; it approves nothing more")
    return 0
