"""HTTP control endpoints under ``/_sandbox/``: read the state, act as users, inject faults.

Every answer is JSON. ``GET /_sandbox/state?since=N&wait=S`` long-polls: it returns as soon as
the sandbox's version exceeds N, or after S seconds (at most 30).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from bot.sandbox.api_base import HttpReply
from bot.sandbox.clock import ManualClock
from bot.sandbox.delivery import Forgery
from bot.sandbox.errors import ApiError, ElementNotFound, SandboxError
from bot.sandbox.records import AppResponse, Json, Message

if TYPE_CHECKING:
    from bot.sandbox.sandbox import SlackSandbox

PREFIX = "/_sandbox/"
MAX_WAIT = 30.0

Endpoint = Callable[["SlackSandbox", dict[str, Any]], Any]


def snapshot(sb: SlackSandbox) -> Json:
    """Everything a page needs to draw the workspace, with the version it corresponds to."""
    state = sb.state
    with state.lock:
        ws = sb.workspace
        channels = {c: [_with_replies(sb, m) for m in state.top_level(c)]
                    for c in state.channel_order}
        return {
            "version": state.version,
            "workspace": {"team_id": ws.team_id, "team_domain": ws.team_domain,
                          "api_app_id": ws.api_app_id, "bot_user_id": ws.bot_user_id,
                          "users": [asdict(u) for u in ws.users],
                          "channels": [asdict(c) for c in ws.channels],
                          "usergroups": ws.usergroups, "dms": {v: list(k) for k, v in
                                                               state.dms.items()}},
            "channels": channels,
            "ephemerals": [m.to_json() for m in state.ephemerals if not m.deleted],
            "views": {u: [state.views[v].to_json() for v in s] for u, s in state.stacks.items()},
            "homes": {u: state.views[v].to_json() for u, v in state.homes.items()},
            "interactions": [d.to_json() for d in state.deliveries[-50:]],
            "call_count": len(state.calls),
        }


def _with_replies(sb: SlackSandbox, msg: Message) -> Json:
    replies = sb.state.thread(msg.channel, msg.ts)[1:]
    return {**msg.to_json(), "thread": [r.to_json() for r in replies]}


class Control:
    def __init__(self, sb: SlackSandbox) -> None:
        self.sb = sb
        self.get: dict[str, Endpoint] = {
            "state": _state, "calls": _calls, "messages": _messages, "thread": _thread,
            "ephemerals": _ephemerals, "views": _views, "interactions": _interactions,
            "workspace": lambda s, a: snapshot(s)["workspace"],
        }
        self.post: dict[str, Endpoint] = {
            "click": _click, "select": _select, "fill": _fill, "submit": _submit,
            "close": _close, "event": _event, "app_home_opened": _home, "message": _message,
            "command": _command, "url_verification": _verification, "faults": _fault,
            "faults/clear": lambda s, a: s.clear_faults(), "rate_limit": _rate_limit,
            "rate_tiers": lambda s, a: s.set_rate_tiers(bool(a.get("enabled", True)),
                                                        float(a.get("window", 60.0))),
            "config": _config, "reset": lambda s, a: s.reset(), "clock/advance": _advance,
        }

    def handle(self, verb: str, path: str, query: str, body: bytes) -> HttpReply:
        if verb == "GET" and not path.startswith(PREFIX):
            return _root(path)
        name = path[len(PREFIX):].strip("/")
        table = self.get if verb == "GET" else self.post
        endpoint = table.get(name)
        if endpoint is None:
            return HttpReply.json(404, {"ok": False, "error": "unknown_endpoint", "path": path})
        try:
            args = _args(verb, query, body)
            return HttpReply.json(200, {"ok": True, "result": _jsonable(endpoint(self.sb, args))})
        except ElementNotFound as err:
            return HttpReply.json(404, {"ok": False, "error": "not_found", "detail": str(err)})
        except (SandboxError, ApiError, ValueError, KeyError, TypeError) as err:
            return HttpReply.json(400, {"ok": False, "error": "bad_request", "detail": str(err)})


def _args(verb: str, query: str, body: bytes) -> dict[str, Any]:
    args: dict[str, Any] = dict(parse_qsl(query))
    if verb != "GET" and body.strip():
        decoded = json.loads(body)
        if not isinstance(decoded, dict):
            raise ValueError("the body must be a JSON object")
        args.update(decoded)
    return args


def _jsonable(value: Any) -> Any:
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    to_json = getattr(value, "to_json", None)
    return to_json() if callable(to_json) else value


def _root(path: str) -> HttpReply:
    """``/`` says where the APIs are; the sandbox serves no files of its own (the demo
    mounts its page with ``SlackSandbox.mount_static``)."""
    if path in ("", "/"):
        return HttpReply.json(200, {"ok": True, "api": "/api/", "control": PREFIX})
    return HttpReply.json(404, {"ok": False, "error": "not_found"})


# -- GET endpoints ---------------------------------------------------------------------------

def _state(sb: SlackSandbox, args: dict[str, Any]) -> Json:
    if "since" in args:
        sb.wait_for_change(int(args["since"]), min(float(args.get("wait", 25)), MAX_WAIT))
    return snapshot(sb)


def _calls(sb: SlackSandbox, args: dict[str, Any]) -> list[Any]:
    return list(sb.calls(args.get("method")))


def _messages(sb: SlackSandbox, args: dict[str, Any]) -> list[Any]:
    return list(sb.messages(args["channel"]))


def _thread(sb: SlackSandbox, args: dict[str, Any]) -> list[Any]:
    return list(sb.thread(args["channel"], args["ts"]))


def _ephemerals(sb: SlackSandbox, args: dict[str, Any]) -> list[Any]:
    return list(sb.ephemerals(args["user"], args.get("channel")))


def _views(sb: SlackSandbox, args: dict[str, Any]) -> Json:
    home = sb.home(args["user"])
    return {"stack": [v.to_json() for v in sb.views(args["user"])],
            "home": home.to_json() if home else None}


def _interactions(sb: SlackSandbox, args: dict[str, Any]) -> list[Any]:
    return list(sb.interactions(args.get("kind")))


# -- POST endpoints --------------------------------------------------------------------------

def _forgery(args: dict[str, Any]) -> Forgery | None:
    spec = args.get("forgery")
    return Forgery(**spec) if isinstance(spec, dict) else None


def _where(args: dict[str, Any]) -> dict[str, Any]:
    return {k: args.get(k) for k in ("block_id", "channel", "message_ts", "view_id")}


def _click(sb: SlackSandbox, args: dict[str, Any]) -> AppResponse:
    return sb.click(args["user"], action_id=args.get("action_id"), text=args.get("text"),
                    forgery=_forgery(args), **_where(args))


def _select(sb: SlackSandbox, args: dict[str, Any]) -> AppResponse | None:
    return sb.select(args["user"], args["action_id"], args.get("value"),
                     forgery=_forgery(args), **_where(args))


def _fill(sb: SlackSandbox, args: dict[str, Any]) -> Any:
    return sb.fill(args["user"], args.get("values") or {}, view_id=args.get("view_id"))


def _submit(sb: SlackSandbox, args: dict[str, Any]) -> AppResponse:
    return sb.submit(args["user"], args.get("values"), view_id=args.get("view_id"),
                     forgery=_forgery(args))


def _close(sb: SlackSandbox, args: dict[str, Any]) -> AppResponse | None:
    return sb.close_view(args["user"], view_id=args.get("view_id"),
                         clear=bool(args.get("clear")), forgery=_forgery(args))


def _event(sb: SlackSandbox, args: dict[str, Any]) -> AppResponse:
    return sb.send_event(args["event"], forgery=_forgery(args))


def _home(sb: SlackSandbox, args: dict[str, Any]) -> AppResponse:
    return sb.open_app_home(args["user"], tab=str(args.get("tab", "home")),
                            forgery=_forgery(args))


def _message(sb: SlackSandbox, args: dict[str, Any]) -> Json:
    msg, result = sb.post_as_user(args["user"], args["channel"], args["text"],
                                  thread_ts=args.get("thread_ts"), forgery=_forgery(args))
    return {"message": msg.to_json(), "delivery": result.to_json()}


def _command(sb: SlackSandbox, args: dict[str, Any]) -> AppResponse:
    return sb.slash_command(args["user"], args["command"], args.get("text", ""),
                            channel=args.get("channel"), forgery=_forgery(args))


def _verification(sb: SlackSandbox, args: dict[str, Any]) -> AppResponse:
    return sb.url_verification(args.get("challenge"), forgery=_forgery(args))


def _fault(sb: SlackSandbox, args: dict[str, Any]) -> Json:
    fault = sb.inject_fault(args["method"], times=int(args.get("times", 1)),
                            error=args.get("error"), status=args.get("status"),
                            retry_after=args.get("retry_after"),
                            delay=float(args.get("delay", 0.0)))
    return asdict(fault)


def _rate_limit(sb: SlackSandbox, args: dict[str, Any]) -> None:
    sb.set_rate_limit(args.get("limit"), float(args.get("window", 1.0)))


def _config(sb: SlackSandbox, args: dict[str, Any]) -> Json:
    sb.set_request_url(args.get("request_url"), args.get("events_url"))
    return {"request_url": sb.deliverer.request_url, "events_url": sb.deliverer.events_url}


def _advance(sb: SlackSandbox, args: dict[str, Any]) -> float:
    if not isinstance(sb.clock, ManualClock):
        raise SandboxError("the sandbox runs on the real clock; start it with a manual clock")
    return sb.clock.advance(float(args["seconds"]))
