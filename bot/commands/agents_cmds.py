"""``signoff agents add|list|revoke``, ``signoff webhooks list|redeliver`` and
``signoff keys rotate|list``."""

from __future__ import annotations

import argparse
import json

from bot import receipts
from bot.commands.store_cmds import open_ledger
from store.agents import AgentStore, WebhookStore
from store.errors import ConfigError

DEFAULT_MAX_PENDING = 20


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    agents = sub.add_parser("agents", help="agents that may call the HTTP API (scoped tokens)")
    asub = agents.add_subparsers(dest="agents_cmd", required=True)
    p = asub.add_parser("add", help="create an agent and print its token (shown once)")
    p.add_argument("name")
    p.add_argument("--actions", nargs="+", default=["*"], metavar="GLOB",
                   help="actions it may request, as globs (default: * — policy still applies)")
    p.add_argument("--max-pending", type=int, default=DEFAULT_MAX_PENDING,
                   help=f"open requests at most; more get HTTP 429 (default "
                   f"{DEFAULT_MAX_PENDING})")
    p.add_argument("--webhook", metavar="URL", help="receive its tickets' state changes here")
    p.add_argument("--trusted-annotations", action="store_true",
                   help="an mcp-proxy token: pass on the annotations of upstreams marked "
                   "trust_annotations (any other agent's annotations never loosen policy)")
    p.set_defaults(func=cmd_agents_add)
    p = asub.add_parser("list", help="list agents (never their tokens)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_agents_list)
    p = asub.add_parser("revoke", help="stop an agent's token on every replica at once")
    p.add_argument("name")
    p.set_defaults(func=cmd_agents_revoke)

    hooks = sub.add_parser("webhooks", help="decision webhook deliveries")
    hsub = hooks.add_subparsers(dest="webhooks_cmd", required=True)
    p = hsub.add_parser("list", help="deliveries, newest first")
    p.add_argument("--agent")
    p.add_argument("--status", choices=["pending", "delivered", "failed"])
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_webhooks_list)
    p = hsub.add_parser("redeliver", help="send a delivery again now (same event id)")
    p.add_argument("delivery_id")
    p.set_defaults(func=cmd_webhooks_redeliver)

    keys = sub.add_parser("keys", help="keys that sign approval receipts")
    ksub = keys.add_subparsers(dest="keys_cmd", required=True)
    p = ksub.add_parser("rotate", help="start signing with a new key (older keys still verify)")
    p.add_argument("--retire", metavar="KID", action="append", default=[],
                   help="also retire this old key: receipts it signed stop verifying")
    p.set_defaults(func=cmd_keys_rotate)
    p = ksub.add_parser("list", help="keys that verify, newest first")
    p.set_defaults(func=cmd_keys_list)


def cmd_agents_add(args: argparse.Namespace) -> int:
    if args.max_pending < 1:
        raise ConfigError(f"--max-pending {args.max_pending}: must be at least 1")
    ledger = open_ledger(args)
    try:
        agent, token = AgentStore(ledger).add(args.name, actions=tuple(args.actions),
                                              max_pending=args.max_pending,
                                              webhook_url=args.webhook,
                                              trusted_annotations=args.trusted_annotations)
    finally:
        ledger.close()
    print(f"agent {agent.name}: actions {' '.join(agent.actions)}; "
          f"at most {agent.max_pending} open requests"
          + ("; vouches for trusted MCP annotations" if agent.trusted_annotations else ""))
    print(f"SIGNOFF_AGENT_TOKEN={token}")
    if agent.webhook_secret:
        print(f"webhook secret (verifies Signoff-Signature): {agent.webhook_secret}")
    print("These are shown once; signoff keeps only a hash of the token.")
    return 0


def cmd_agents_list(args: argparse.Namespace) -> int:
    ledger = open_ledger(args)
    try:
        agents = AgentStore(ledger).all()
    finally:
        ledger.close()
    for a in agents:
        doc = {"name": a.name, "actions": list(a.actions), "max_pending": a.max_pending,
               "webhook": a.webhook_url, "created_at": a.created_at.isoformat(),
               "revoked_at": a.revoked_at.isoformat() if a.revoked_at else None}
        if args.json:
            print(json.dumps(doc))
        else:
            state = f"revoked {doc['revoked_at']}" if a.revoked else "active"
            print(f"{a.name:<24} {state:<10} max {a.max_pending:<4} "
                  f"{' '.join(a.actions)}" + (f"  webhook {a.webhook_url}" if a.webhook_url
                                              else ""))
    return 0


def cmd_agents_revoke(args: argparse.Namespace) -> int:
    ledger = open_ledger(args)
    try:
        agent = AgentStore(ledger).revoke(args.name)
    finally:
        ledger.close()
    assert agent.revoked_at is not None
    print(f"agent {agent.name} revoked at {agent.revoked_at.isoformat()}")
    return 0


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    ledger = open_ledger(args)
    try:
        store = AgentStore(ledger)
        kid, pem, public = receipts.generate_key(args.settings.keys_passphrase_bytes)
        store.add_key(kid, pem, public)
        for old in args.retire:
            store.retire_key(old)
    finally:
        ledger.close()
    print(f"receipts are now signed with key {kid}; older keys verify until retired")
    return 0


def cmd_keys_list(args: argparse.Namespace) -> int:
    ledger = open_ledger(args)
    try:
        keys = AgentStore(ledger).signing_keys()
    finally:
        ledger.close()
    for k in keys:
        print(f"{k.kid}  {'signing' if k.active else 'verifies'}  since "
              f"{k.created_at.isoformat()}")
    return 0


def cmd_webhooks_list(args: argparse.Namespace) -> int:
    ledger = open_ledger(args)
    try:
        rows = WebhookStore(ledger).deliveries(agent=args.agent, status=args.status,
                                               limit=args.limit)
    finally:
        ledger.close()
    for d in rows:
        if args.json:
            print(json.dumps(d.model_dump(mode="json")))
        else:
            print(f"{d.id:<40} {d.agent:<20} {d.event:<20} {d.status:<9} "
                  f"attempts {d.attempts}" + (f"  last error: {d.last_error}"
                                              if d.last_error else ""))
    return 0


def cmd_webhooks_redeliver(args: argparse.Namespace) -> int:
    ledger = open_ledger(args)
    try:
        d = WebhookStore(ledger).redeliver(args.delivery_id)
    finally:
        ledger.close()
    print(f"{d.id}: queued for delivery to agent {d.agent}")
    return 0
