"""Can the bot post in every route's channel? Checked when ``signoff serve`` starts.

Slack lets an app post only where its bot user is a member: a post elsewhere answers
``not_in_channel``, and a private channel the app was not invited to does not even exist for
it (``channel_not_found``). So at start every route's channel is looked up
(``conversations.info``: ``channels:read`` for public channels, ``groups:read`` for private
ones); the bot joins public channels itself (``conversations.join``: ``channels:join``), and
each channel it cannot join is named with what to do, before any card is lost to it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.slack.webapi import slack_error

log = logging.getLogger(__name__)

#: Failures that say nothing about the channel: report them, but do not refuse to start.
_TRANSIENT = {"ratelimited", "internal_error", "fatal_error", "service_unavailable",
              "request_timeout"}


@dataclass
class ChannelCheck:
    joined: list[str] = field(default_factory=list)  # public channels the bot joined now
    problems: list[str] = field(default_factory=list)  # cards would not reach these
    unchecked: list[str] = field(default_factory=list)  # Slack did not answer; try later

    @property
    def ok(self) -> bool:
        return not self.problems


def check_route_channels(slack: WebClient, routes: Mapping[str, str], *,
                         bot_name: str = "signoff") -> ChannelCheck:
    """Look up each route's channel (``routes``: route name to channel id), join the public
    ones the bot is not in, and explain every channel a card could not be posted to."""
    result = ChannelCheck()
    by_channel: dict[str, list[str]] = {}
    for route, channel in routes.items():
        by_channel.setdefault(channel, []).append(route)
    for channel, names in by_channel.items():
        where = f"channel {channel} (route{'s' if len(names) > 1 else ''} {', '.join(names)})"
        try:
            _check_one(slack, channel, where, bot_name, result)
        except (SlackApiError, SlackClientError, OSError) as exc:
            error = slack_error(exc)
            if error in _TRANSIENT or not isinstance(exc, SlackApiError) or (
                    exc.response is not None and exc.response.status_code >= 500):
                result.unchecked.append(f"{where}: not checked ({error})")
            else:
                result.problems.append(_explain(where, exc, bot_name))
    return result


def _check_one(slack: WebClient, channel: str, where: str, bot_name: str,
               result: ChannelCheck) -> None:
    info = slack.conversations_info(channel=channel)["channel"]
    name = f"#{info['name']}" if info.get("name") else channel
    where = where.replace(channel, f"{channel} ({name})", 1)
    if info.get("is_archived"):
        result.problems.append(f"{where} is archived, so no card can be posted there: "
                               "unarchive it or route to another channel in signoff.yml")
    elif info.get("is_member"):
        return
    elif info.get("is_private"):  # visible without membership only to some token types
        result.problems.append(f"{where} is private and @{bot_name} is not in it: open the "
                               f"channel in Slack and type /invite @{bot_name}")
    else:
        slack.conversations_join(channel=channel)
        log.info("joined %s to post review cards there", where)
        result.joined.append(where)


def _explain(where: str, exc: SlackApiError, bot_name: str) -> str:
    data = exc.response.data if isinstance(exc.response.data, dict) else {}
    error = str(data.get("error", "error"))
    if error == "channel_not_found":
        return (f"{where} was not found: either it is a private channel @{bot_name} was not "
                f"invited to (Slack hides those from apps; open it in Slack and type "
                f"/invite @{bot_name}), or the id is wrong (copy it from the bottom of the "
                "channel's details into signoff.yml)")
    if error == "missing_scope":
        return (f"{where} could not be checked: the app lacks the scope "
                f"{data.get('needed', '?')} (it has {data.get('provided') or 'none'}); add it "
                "under OAuth & Permissions (manifest.yml lists every scope signoff needs), "
                "reinstall the app and use the new SLACK_BOT_TOKEN")
    if error == "is_archived":
        return f"{where} is archived: unarchive it or route to another channel in signoff.yml"
    return f"{where}: Slack answered {error}; cards cannot be posted there"
