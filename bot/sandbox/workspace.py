"""The workspace a sandbox pretends to be: team, app, bot, users, user groups and channels."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from bot.sandbox.zones import known_zone, zone_fields


@dataclass(frozen=True)
class User:
    id: str
    name: str
    real_name: str = ""
    email: str = ""
    is_bot: bool = False
    deleted: bool = False
    """Deactivated by an admin: ``users.info`` says ``deleted: true``, and nobody can open
    a DM with them (``user_disabled``)."""
    tz: str | None = "UTC"
    """The IANA time zone of their profile (None: Slack knows none, ``"tz": null``)."""
    tz_label: str | None = None
    """None: the zone's long name in force at the sandbox's clock, as Slack labels it."""
    tz_offset: int | None = None
    """Seconds east of UTC; None: the zone's offset at the sandbox's clock (DST included)."""

    def __post_init__(self) -> None:
        # A name Python's zone database lacks is allowed only with the label and offset
        # pinned: that is how a test models a zone the app cannot look up.
        unknown = self.tz is not None and not known_zone(self.tz)
        if unknown and (self.tz_label is None or self.tz_offset is None):
            raise ValueError(f"user {self.id}: unknown time zone {self.tz!r}; use an IANA "
                             "name such as America/Los_Angeles, or also set tz_label and "
                             "tz_offset")

    def to_slack(self, team_id: str, now: float) -> dict[str, Any]:
        """The user object as users.info returns it at the instant ``now``."""
        real_name = self.real_name or self.name
        return {
            "id": self.id,
            "team_id": team_id,
            "name": self.name,
            "deleted": self.deleted,
            "real_name": real_name,
            **zone_fields(self.tz, now, label=self.tz_label, offset=self.tz_offset),
            "is_admin": False,
            "is_owner": False,
            "is_bot": self.is_bot,
            "is_app_user": False,
            "updated": 0,
            "profile": {
                "real_name": real_name,
                "display_name": self.name,
                "email": self.email or None,
                "team": team_id,
            },
        }


@dataclass(frozen=True)
class Channel:
    """A channel. ``members=None`` means every person in the workspace is in it; whether the
    app's bot user is in it is ``bot_member`` (as after ``/invite @app``). A fresh install is
    in no channel: ``bot_member=False``; with an explicit ``members`` list the bot is a member
    exactly when its user id is listed. Slack hides a private channel from an app that is not
    in it (``channel_not_found``)."""

    id: str
    name: str
    members: tuple[str, ...] | None = None
    is_private: bool = False
    is_archived: bool = False
    bot_member: bool = True

    def has_member(self, user_id: str) -> bool:
        return self.members is None or user_id in self.members

    def bot_is_member(self, bot_user_id: str) -> bool:
        return bot_user_id in self.members if self.members is not None else self.bot_member


#: What the sandbox's app is granted unless told otherwise: every scope of the methods it
#: serves, except ``chat:write.public`` (posting where the bot user was not invited).
DEFAULT_SCOPES = ("chat:write", "channels:join", "channels:read", "groups:read", "im:read",
                  "mpim:read", "channels:history", "groups:history", "im:history",
                  "mpim:history", "im:write", "mpim:write", "users:read", "users:read.email",
                  "usergroups:read")


@dataclass
class Workspace:
    """Everything the sandbox knows about the Slack side. All ids follow Slack's prefixes."""

    team_id: str = "T0SANDBOX"
    team_domain: str = "sandbox"
    api_app_id: str = "A0SANDBOX"
    bot_user_id: str = "U0SANDBOT"
    bot_id: str = "B0SANDBOT"
    bot_name: str = "sandbox-app"
    bot_tokens: tuple[str, ...] = ("xoxb-sandbox-token",)
    #: The scopes the bot token was granted (None: every scope, so nothing is refused).
    bot_scopes: tuple[str, ...] | None = DEFAULT_SCOPES
    #: App-level tokens (``xapp-…``, scope ``connections:write``) for Socket Mode.
    app_tokens: tuple[str, ...] = ("xapp-sandbox-token",)
    users: list[User] = field(default_factory=list)
    usergroups: dict[str, list[str]] = field(default_factory=dict)
    channels: list[Channel] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._check_ids()
        if not any(u.id == self.bot_user_id for u in self.users):
            bot = User(self.bot_user_id, self.bot_name, self.bot_name, is_bot=True)
            self.users = [*self.users, bot]

    def _check_ids(self) -> None:
        # Apps branch on id prefixes (U/W users, C/G channels, S groups); catch typos early.
        for user in self.users:
            _expect_prefix(user.id, "UW", "user")
        for channel in self.channels:
            _expect_prefix(channel.id, "CG", "channel")
        for group_id, members in self.usergroups.items():
            _expect_prefix(group_id, "S", "user group")
            for member in members:
                _expect_prefix(member, "UW", "user group member")

    @classmethod
    def default(cls) -> Workspace:
        """A small ready-made workspace for demos and tests."""
        return cls(
            users=[
                User("U0ALICE", "alice", "Alice Archer", "alice@example.com"),
                User("U0BOB", "bob", "Bob Baker", "bob@example.com"),
                User("U0CAROL", "carol", "Carol Chen", "carol@example.com"),
            ],
            usergroups={"S0REVIEW": ["U0ALICE", "U0BOB"]},
            channels=[Channel("C0GENERAL", "general"), Channel("C0RANDOM", "random")],
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Workspace:
        """Build a workspace from plain data (e.g. a YAML or JSON file for the CLI)."""
        scalars = {k: v for k, v in data.items() if k not in ("users", "channels", "usergroups")}
        for key in ("bot_tokens", "bot_scopes", "app_tokens"):
            if scalars.get(key) is not None:
                scalars[key] = tuple(scalars[key])
        return cls(
            users=[User(**u) for u in data.get("users", [])],
            channels=[_channel_from_dict(c) for c in data.get("channels", [])],
            usergroups={k: list(v) for k, v in data.get("usergroups", {}).items()},
            **scalars,
        )

    def user(self, user_id: str) -> User | None:
        return next((u for u in self.users if u.id == user_id), None)

    def deactivate(self, user_id: str) -> None:
        """An admin deactivates the account (the id and its history stay)."""
        self.users = [replace(u, deleted=True) if u.id == user_id else u for u in self.users]

    def set_time_zone(self, user_id: str, tz: str | None, *, tz_label: str | None = None,
                      tz_offset: int | None = None) -> None:
        """The user changes the time zone of their profile."""
        self.users = [replace(u, tz=tz, tz_label=tz_label, tz_offset=tz_offset)
                      if u.id == user_id else u for u in self.users]

    def user_by_email(self, email: str) -> User | None:
        wanted = email.strip().lower()
        return next((u for u in self.users if u.email and u.email.lower() == wanted), None)

    def channel(self, id_or_name: str) -> Channel | None:
        name = id_or_name.removeprefix("#")
        return next((c for c in self.channels if id_or_name == c.id or name == c.name), None)

    def humans(self) -> Iterable[User]:
        return (u for u in self.users if not u.is_bot)


def _channel_from_dict(data: Mapping[str, Any]) -> Channel:
    members = data.get("members")
    return Channel(
        id=data["id"],
        name=data["name"],
        members=None if members is None else tuple(members),
        is_private=bool(data.get("is_private", False)),
        is_archived=bool(data.get("is_archived", False)),
        bot_member=bool(data.get("bot_member", True)),
    )


def _expect_prefix(value: str, prefixes: str, what: str) -> None:
    if not value or value[0] not in prefixes:
        raise ValueError(f"{what} id {value!r} must start with one of {', '.join(prefixes)}")
