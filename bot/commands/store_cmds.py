"""``signoff migrate`` and ``signoff tickets …`` (``signoff audit …``: audit_cmds)."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from store.db import current_revision, head_revision, make_engine, migrate
from store.errors import ConfigError
from store.ledger import Ledger
from store.models import Decision, Ticket, TicketStatus


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("migrate", help="create or upgrade the database schema")
    p.set_defaults(func=cmd_migrate)

    tickets = sub.add_parser("tickets", help="list and inspect tickets")
    tsub = tickets.add_subparsers(dest="tickets_cmd", required=True)
    p = tsub.add_parser("list", help="list tickets, newest first")
    p.add_argument("--status", action="append", choices=[s.value for s in TicketStatus],
                   help="only this status (repeatable)")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(func=cmd_tickets_list)
    p = tsub.add_parser("show", help="one ticket with its decisions and audit events")
    p.add_argument("ticket_id")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_tickets_show)
    p = tsub.add_parser("resolve", help="record what happened to an execution whose outcome "
                        "is unknown (it never reported back; signoff never re-runs it)")
    p.add_argument("ticket_id")
    p.add_argument("--outcome", required=True, choices=["succeeded", "failed"],
                   help="what checking the target system showed")
    p.add_argument("--note", required=True, help="how you know (kept in the audit trail)")
    p.add_argument("--by", required=True, metavar="WHO",
                   help="who resolves it (a Slack user id or a name; audited)")
    p.set_defaults(func=cmd_tickets_resolve)


def parse_time(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO time; use e.g. 2026-11-01 or 2026-11-01T09:30:00Z"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def open_ledger(args: argparse.Namespace) -> Ledger:
    settings = args.settings
    return Ledger.open(settings.database_url, audit_key=settings.audit_key_bytes)


def cmd_migrate(args: argparse.Namespace) -> int:
    engine = make_engine(args.settings.database_url)
    try:
        before = current_revision(engine)
        migrate(engine)
        after = current_revision(engine)
    finally:
        engine.dispose()
    url = engine.url.render_as_string(hide_password=True)
    if before == after:
        print(f"{url}: schema already at revision {after} (latest: {head_revision()})")
    else:
        print(f"{url}: migrated from {before or 'empty'} to {after}")
    return 0


def cmd_tickets_list(args: argparse.Namespace) -> int:
    ledger = open_ledger(args)
    statuses = [TicketStatus(s) for s in args.status] if args.status else None
    tickets = ledger.list_tickets(statuses, limit=args.limit)
    if args.json:
        for t in tickets:
            print(json.dumps(_ticket_json(t, [])))
        return 0
    if not tickets:
        print("no tickets")
        return 0
    rows: list[tuple[str, ...]] = [("ID", "STATUS", "ACTION", "TIER", "FOR", "CREATED", "EXPIRES")]
    rows += [(t.id, t.status.value, t.action, t.tier.value, t.requested_by,
              _short(t.created_at), _short(t.expires_at)) for t in tickets]
    _print_table(rows)
    return 0


def cmd_tickets_show(args: argparse.Namespace) -> int:
    ledger = open_ledger(args)
    ticket = ledger.get_ticket(args.ticket_id)
    decisions = ledger.decisions(ticket.id)
    events = list(ledger.audit_events(ticket_id=ticket.id))
    if args.json:
        doc = _ticket_json(ticket, decisions)
        doc["audit"] = [e.model_dump(mode="json") for e in events]
        print(json.dumps(doc, indent=2))
        return 0
    print(f"{ticket.id}  {ticket.status.value}  {ticket.action}  tier={ticket.tier.value}")
    print(f"  for {ticket.requested_by}  agent={ticket.agent or '-'}  run={ticket.run_id or '-'}")
    print(f"  route {ticket.route.name} -> {ticket.route.channel}  "
          f"approvals {len(ticket.approvals)}/{ticket.route.approvals_required}")
    print(f"  policy {ticket.policy_version} rule={ticket.policy_rule or '-'}")
    print(f"  created {_short(ticket.created_at)}  expires {_short(ticket.expires_at)}")
    print(f"  args {json.dumps(ticket.args, sort_keys=True)}")
    if ticket.edited:
        print(f"  edited to {json.dumps(ticket.final_args, sort_keys=True)}")
    if ticket.reason:
        print(f"  reason: {ticket.reason}")
    print("decisions:" if decisions else "decisions: none")
    for d in decisions:
        who = f"{d.reviewer} (for {d.on_behalf_of})" if d.on_behalf_of else d.reviewer
        print(f"  {_short(d.at)}  {who}  {d.kind.value}  {d.reason or ''}".rstrip())
    print("audit:")
    for e in events:
        sealed = f"seal {e.seal}" if e.seal is not None else "not sealed yet"
        print(f"  #{e.seq}  {_short(e.at)}  {e.kind}  by {e.actor}  ({sealed})")
    return 0


def cmd_tickets_resolve(args: argparse.Namespace) -> int:
    if not args.note.strip() or not args.by.strip():
        raise ConfigError("--note and --by must not be empty: the audit trail records who "
                          "resolved the outcome and how they know")
    ticket = open_ledger(args).resolve_outcome(args.ticket_id, ok=args.outcome == "succeeded",
                                               actor=args.by.strip(), note=args.note.strip())
    print(f"{ticket.id}: {ticket.status.value} (resolved by {args.by.strip()})")
    return 0


def _ticket_json(t: Ticket, decisions: list[Decision]) -> dict[str, Any]:
    doc: dict[str, Any] = t.model_dump(mode="json")
    doc["args"] = t.final_args if t.edited else t.args
    doc["proposed_args"] = t.args
    keep = {"reviewer", "kind", "reason", "args", "args_hash", "at", "policy_version",
            "on_behalf_of"}
    doc["decisions"] = [d.model_dump(mode="json", include=keep) for d in decisions]
    return doc


def _short(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ") if value else "-"


def _print_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
