"""What ``signoff mcp-proxy`` tells the MCP client (and so the model) when a tool call does
not simply run. Each answer says what happened and what to do next."""

from __future__ import annotations

import json
from typing import Any


def mcp_denied(action: str, rule: str, reason: str | None) -> str:
    return (f"signoff denied {action}: policy rule {rule!r} forbids it"
            f"{f' ({reason})' if reason else ''}. Nothing ran; do not retry it, "
            "choose another way or ask the user.")


def mcp_pending(ticket_id: str, tool: str, waited_s: float,
                question: str | None = None) -> dict[str, Any]:
    if question is not None:
        return {
            "status": "needs_info", "ticket": ticket_id, "tool": tool, "question": question,
            "message": (f"The reviewer of {tool} (ticket {ticket_id}) asks: {question} "
                        "Nothing has run yet. Answer with signoff_answer (ticket, text); the "
                        "request then goes back to the reviewer. Then call the same tool "
                        "with the same arguments again to pick up the decision."),
        }
    return {
        "status": "pending", "ticket": ticket_id, "tool": tool,
        "message": (f"{tool} is waiting for a reviewer's approval in Slack (ticket "
                    f"{ticket_id}; waited {waited_s:.0f}s). Nothing has run yet. Call the "
                    "same tool with the same arguments again, or signoff_status with this "
                    "ticket, to pick up the decision; it will not ask twice."),
    }


def mcp_not_run(action: str, why: str) -> str:
    return f"signoff did not run {action}: {why}"


def mcp_upstream_failed(action: str, upstream: str, error: str) -> str:
    return (f"{action} was approved and sent to {upstream} once, but the call failed there: "
            f"{error}. It was not retried and may or may not have taken effect; check before "
            "asking again.")


def mcp_unknown_tool(name: str, known: list[str]) -> str:
    return f"no tool named {name!r}; the tools are: {', '.join(sorted(known)) or 'none'}"


def mcp_status_unknown(ticket_id: str) -> str:
    return (f"no MCP tool call with ticket {ticket_id!r} is known to this proxy; call the "
            "tool again to ask for approval")


def as_text(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=True)


def mcp_answered(ticket_id: str) -> str:
    return (f"Answer sent to the reviewer of ticket {ticket_id}. Call the same tool with the "
            "same arguments again (or signoff_status) to pick up the decision.")
