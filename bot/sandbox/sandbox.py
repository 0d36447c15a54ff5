"""``SlackSandbox``: a local stand-in for Slack's side of any Bolt app.

    with SlackSandbox(request_url="http://127.0.0.1:3000/slack/events") as sb:
        client = WebClient(base_url=sb.api_url, token=sb.bot_token)
        ...
        sb.click("U0ALICE", action_id="approve")
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from bot.sandbox.actors import Actors, Where
from bot.sandbox.api_base import ApiContext, HttpReply
from bot.sandbox.clock import Clock
from bot.sandbox.control import PREFIX as CONTROL_PREFIX
from bot.sandbox.control import Control, snapshot
from bot.sandbox.delivery import ACK_TIMEOUT, Deliverer, Forgery
from bot.sandbox.errors import ApiError, SandboxError
from bot.sandbox.events import Events
from bot.sandbox.faults import Fault, FaultInjector, RateLimiter, TierLimiter
from bot.sandbox.modals import Modals
from bot.sandbox.records import ApiCall, AppResponse, Json, Message, SubmissionResult, View
from bot.sandbox.responder import RESPONSE_PATH, handle_response_url
from bot.sandbox.routes import Handler, Request, Routes
from bot.sandbox.server import SandboxHTTPServer
from bot.sandbox.socket_mode import SocketLink
from bot.sandbox.state import SandboxState
from bot.sandbox.webapi import WebApi
from bot.sandbox.workspace import Workspace

DEFAULT_SIGNING_SECRET = "sandbox-signing-secret"
DEFAULT_VERIFICATION_TOKEN = "sandbox-verification-token"

_T = TypeVar("_T")


class SlackSandbox:
    def __init__(self, workspace: Workspace | None = None, *, host: str = "127.0.0.1",
                 port: int = 0, signing_secret: str = DEFAULT_SIGNING_SECRET,
                 request_url: str | None = None, events_url: str | None = None,
                 clock: Clock = time.time, signing_clock: Clock = time.time,
                 ack_timeout: float = ACK_TIMEOUT, rate_limit: int | None = None,
                 rate_window: float = 1.0, rate_tiers: bool = False,
                 verification_token: str = DEFAULT_VERIFICATION_TOKEN) -> None:
        self.workspace = workspace or Workspace.default()
        self.clock = clock
        self.signing_secret = signing_secret
        self.state = SandboxState(self.workspace, clock)
        self.faults = FaultInjector()
        self.limiter = RateLimiter(clock, rate_limit, rate_window)
        self.tiers = TierLimiter(clock)
        self.tiers.configure(rate_tiers)
        self.ctx = ApiContext(self.state, self.limiter, base_url="", tiers=self.tiers)
        self.deliverer = Deliverer(signing_secret, signing_clock, ack_timeout)
        self.set_request_url(request_url, events_url)
        self.actors = Actors(self.ctx, self.deliverer, verification_token)
        self.modals = Modals(self.actors)
        self.events = Events(self.actors)
        self.socket = SocketLink(host, self.workspace.api_app_id)
        self.deliverer.socket = self.socket
        self.web_api = WebApi(self.ctx, self.faults, self.socket)
        self._control = Control(self)
        self._routes = Routes(("/api/", CONTROL_PREFIX, RESPONSE_PATH))
        self._address = (host, port)
        self._server: SandboxHTTPServer | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> SlackSandbox:
        if self._server is None:
            self._server = SandboxHTTPServer(self._address, self._route)
            self.ctx.base_url = self._server.base_url
            self._server.start()
        return self

    def stop(self) -> None:
        self.socket.stop()
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> SlackSandbox:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if not self.ctx.base_url:
            raise SandboxError("the sandbox is not started")
        return self.ctx.base_url

    @property
    def api_url(self) -> str:
        """What ``WebClient(base_url=...)`` and ``SLACK_API_URL`` take."""
        return f"{self.base_url}/api/"

    @property
    def bot_token(self) -> str:
        return self.workspace.bot_tokens[0]

    @property
    def app_token(self) -> str:
        """An app-level token (``xapp-…``) for Socket Mode's ``apps.connections.open``."""
        return self.workspace.app_tokens[0]

    @property
    def ack_timeout(self) -> float:
        """Seconds the app has to answer a delivery (Slack: 3); lower it to test slow acks fast."""
        return self.deliverer.ack_timeout

    @ack_timeout.setter
    def ack_timeout(self, seconds: float) -> None:
        self.deliverer.ack_timeout = seconds

    def set_request_url(self, request_url: str | None, events_url: str | None = None) -> None:
        """Where interactivity (and, unless given apart, events) are delivered."""
        self.deliverer.request_url = request_url
        self.deliverer.events_url = events_url

    # -- faults and limits -------------------------------------------------------------------

    def inject_fault(self, method: str, *, times: int = 1, error: str | None = None,
                     status: int | None = None, retry_after: int | None = None,
                     delay: float = 0.0) -> Fault:
        """Make the next ``times`` calls of ``method`` fail or arrive late (see :class:`Fault`)."""
        return self.faults.add(Fault(method, times, error, status, retry_after, delay))

    def clear_faults(self) -> None:
        self.faults.clear()

    def set_rate_limit(self, limit: int | None, window: float = 1.0) -> None:
        """chat.postMessage: at most ``limit`` posts per channel per ``window`` s (None: off)."""
        self.limiter.configure(limit, window)

    def set_client_text_normalisation(self, enabled: bool) -> None:
        """Submit text inputs as a tidying client might: CRLF turned into LF and trailing
        whitespace trimmed (off by default: values go back byte for byte)."""
        self.modals.normalise_text = enabled

    def set_rate_tiers(self, enabled: bool, window: float = 60.0) -> None:
        """Slack's per-method tiers (Tier 2: 20, Tier 3: 50, Tier 4: 100 calls per ``window``
        seconds), answered with 429 and ``Retry-After`` like Slack. Off by default."""
        self.tiers.configure(enabled, window)

    # -- what happened -----------------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[ApiCall]:
        with self.state.lock:
            return [c for c in self.state.calls if method in (None, c.method)]

    def calls_after(self, start: int, method: str | None = None) -> tuple[list[ApiCall], int]:
        """The calls recorded from position ``start`` on (of ``method`` only, if given) and
        the position to go on from: a watcher reads each call once, however long the run."""
        with self.state.lock:
            if start > len(self.state.calls):  # a reset since: every call is new
                start = 0
            new = self.state.calls[start:]
            end = start + len(new)
        return [c for c in new if method in (None, c.method)], end

    def messages(self, channel: str) -> list[Message]:
        """Top-level messages of a channel (id, ``#name`` or user id for the DM), oldest first."""
        return self.state.top_level(self._channel(channel))

    def message(self, channel: str, ts: str) -> Message | None:
        return self.state.message(self._channel(channel), ts)

    def thread(self, channel: str, ts: str) -> list[Message]:
        return self.state.thread(self._channel(channel), ts)

    def ephemerals(self, user: str, channel: str | None = None) -> list[Message]:
        wanted = self._channel(channel) if channel else None
        with self.state.lock:
            return [m for m in self.state.ephemerals if m.ephemeral_user == user
                    and not m.deleted and wanted in (None, m.channel)]

    def views(self, user: str) -> list[View]:
        """The user's open modals, bottom to top."""
        return self.state.stack(user)

    def view(self, view_id: str) -> View | None:
        return self.state.views.get(view_id)

    def home(self, user: str) -> View | None:
        return self.actors.home(user)

    def interactions(self, kind: str | None = None) -> list[AppResponse]:
        with self.state.lock:
            return [d for d in self.state.deliveries if kind in (None, d.kind)]

    def invite_bot(self, channel: str) -> None:
        """Someone types ``/invite @app`` in ``channel``: the bot user becomes a member."""
        self.state.add_bot(self._channel(channel))

    def remove_bot(self, channel: str) -> None:
        """The bot user is removed from ``channel`` (``/remove @app``)."""
        self.state.remove_bot(self._channel(channel))

    def bot_in(self, channel: str) -> bool:
        return self.state.bot_in(self._channel(channel))

    def dm_channel(self, user: str) -> str:
        return self.state.dm_for((user,))

    @property
    def version(self) -> int:
        """Grows with every change; poll it (or ``wait_for_change``) to follow the sandbox."""
        return self.state.version

    def wait_for_change(self, since: int, timeout: float = 10.0) -> int:
        return self.state.wait_for_change(since, timeout)

    def wait_until(self, predicate: Callable[[], _T | None], timeout: float = 5.0) -> _T:
        """Wait for the sandbox to reach a state (e.g. an app's work after its ack) and return
        the predicate's truthy value; TimeoutError if it does not come."""
        deadline = time.monotonic() + timeout
        while True:
            since = self.version  # read before testing, so no change slips between the two
            value = predicate()
            if value:
                return value
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("the sandbox did not reach the expected state")
            self.wait_for_change(since, remaining)

    def snapshot(self) -> Json:
        return snapshot(self)

    def reset(self) -> None:
        """Forget messages, views, calls and deliveries; keep the workspace and settings."""
        self.state.reset()
        self.faults.clear()

    # -- acting as users ---------------------------------------------------------------------

    def click(self, user: str, *, action_id: str | None = None, text: str | None = None,
              block_id: str | None = None, channel: str | None = None,
              message_ts: str | None = None, view_id: str | None = None,
              forgery: Forgery | None = None) -> AppResponse:
        where = Where(self._channel(channel) if channel else None, message_ts, view_id)
        return self.actors.click(user, action_id=action_id, text=text, block_id=block_id,
                                 where=where, forgery=forgery)

    def select(self, user: str, action_id: str, value: Any, *, block_id: str | None = None,
               channel: str | None = None, message_ts: str | None = None,
               view_id: str | None = None,
               forgery: Forgery | None = None) -> AppResponse | None:
        where = Where(self._channel(channel) if channel else None, message_ts, view_id)
        return self.actors.select(user, action_id, value, block_id=block_id, where=where,
                                  forgery=forgery)

    def fill(self, user: str, values: Mapping[str, Any], *, view_id: str | None = None) -> View:
        return self.actors.fill(self.modals.modal(user, view_id), values)

    def submit(self, user: str, values: Mapping[str, Any] | None = None, *,
               view_id: str | None = None, forgery: Forgery | None = None) -> SubmissionResult:
        return self.modals.submit(user, values, view_id=view_id, forgery=forgery)

    def close_view(self, user: str, *, view_id: str | None = None, clear: bool = False,
                   forgery: Forgery | None = None) -> AppResponse | None:
        return self.modals.close(user, view_id=view_id, clear=clear, forgery=forgery)

    def send_event(self, event: Json, *, forgery: Forgery | None = None,
                   retries: int = 0) -> AppResponse:
        """Deliver an event; ``retries``: redeliver up to that many times (Slack: 3) while
        the app does not acknowledge it, with Slack's retry headers."""
        return self.events.send(event, forgery=forgery, retries=retries)

    def open_app_home(self, user: str, *, tab: str = "home",
                      forgery: Forgery | None = None) -> AppResponse:
        return self.events.app_home_opened(user, tab=tab, forgery=forgery)

    def set_usergroup_members(self, group: str, users: list[str], *,
                              forgery: Forgery | None = None) -> AppResponse:
        """Change a user group's members, and deliver ``subteam_members_changed``."""
        return self.events.usergroup_members(group, users, forgery=forgery)

    def deactivate_user(self, user: str) -> None:
        """An admin deactivates ``user``: ``users.info`` then says ``deleted: true`` and
        ``conversations.open`` with them fails with ``user_disabled``."""
        with self.state.lock:
            self.state.workspace.deactivate(user)

    def set_time_zone(self, user: str, tz: str | None, *, tz_label: str | None = None,
                      tz_offset: int | None = None) -> None:
        """``user`` sets their profile's time zone (an IANA name): ``users.info`` then
        reports it, with the label and offset in force at the sandbox's clock unless given.
        Slack's ``user_change`` event is not sent."""
        with self.state.lock:
            if self.state.workspace.user(user) is None:
                raise ValueError(f"no user {user!r} in the sandbox's workspace")
            self.state.workspace.set_time_zone(user, tz, tz_label=tz_label, tz_offset=tz_offset)

    def post_as_user(self, user: str, channel: str, text: str, *, thread_ts: str | None = None,
                     forgery: Forgery | None = None) -> tuple[Message, AppResponse]:
        return self.events.user_message(user, channel, text, thread_ts=thread_ts,
                                        forgery=forgery)

    def slash_command(self, user: str, command: str, text: str = "", *,
                      channel: str | None = None,
                      forgery: Forgery | None = None) -> AppResponse:
        return self.events.slash_command(user, command, text, channel=channel, forgery=forgery)

    def url_verification(self, challenge: str | None = None, *,
                         forgery: Forgery | None = None) -> AppResponse:
        return self.events.url_verification(challenge, forgery=forgery)

    def issue_trigger(self, user: str) -> str:
        """A fresh trigger_id for ``user``, as an interaction would produce."""
        return self.state.issue_trigger(user)

    # -- HTTP --------------------------------------------------------------------------------

    def add_route(self, method: str, path: str, handler: Handler) -> None:
        """Answer ``method path`` (an exact path) with ``handler(Request) -> HttpReply``.

        For a program that embeds the sandbox and serves its own page from the same origin.
        Paths under ``/api/``, ``/_sandbox/`` and ``/actions/`` are the sandbox's own:
        ValueError. Added routes win over mounts; may be called before or after ``start()``.
        """
        self._routes.add(method, path, handler)

    def mount_static(self, prefix: str, directory: str | Path, *,
                     index: str | None = "index.html") -> None:
        """Serve the files under ``directory`` at ``GET prefix<relative path>``.

        ``prefix`` starts and ends with ``/``; the bare prefix serves ``index`` (None: 404).
        Nothing outside ``directory`` is ever served; replies carry ``Cache-Control: no-store``.
        A longer prefix wins over a shorter one, so ``/`` can be mounted next to ``/app/``.
        """
        self._routes.mount(prefix, Path(directory), index)

    def _route(self, verb: str, path: str, query: str, headers: Mapping[str, str],
               body: bytes) -> HttpReply:
        if path.startswith("/api/"):
            return self.web_api.handle(path[len("/api/"):], headers, query, body)
        if path.startswith(RESPONSE_PATH) and verb == "POST":
            return handle_response_url(self.ctx, path, body)
        if not path.startswith(CONTROL_PREFIX):
            added = self._routes.answer(Request(verb, path, query, headers, body))
            if added is not None:
                return added
        return self._control.handle(verb, path, query, body)

    def _channel(self, channel: str | None) -> str:
        try:
            return self.state.resolve_channel(channel)
        except ApiError:
            raise SandboxError(f"no channel {channel!r} in the sandbox") from None
