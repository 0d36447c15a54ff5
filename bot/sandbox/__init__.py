"""A local, faithful stand-in for Slack's side of any Bolt app: Web API, interactivity, events.

Start it in a test with ``with SlackSandbox(...) as sb:`` and point ``WebClient(base_url=
sb.api_url)`` at it; act as users with ``sb.click``, ``sb.submit``...; read what happened with
``sb.calls``, ``sb.messages``, ``sb.views``.
"""

from bot.sandbox.api_base import HttpReply
from bot.sandbox.blockkit import BlockKitError, validate_message_blocks, validate_view
from bot.sandbox.clock import Clock, ManualClock
from bot.sandbox.delivery import Forgery, sign
from bot.sandbox.errors import ElementNotFound, InvalidInput, SandboxError
from bot.sandbox.faults import Fault
from bot.sandbox.records import ApiCall, AppResponse, Message, SubmissionResult, View
from bot.sandbox.routes import Request, file_reply
from bot.sandbox.sandbox import SlackSandbox
from bot.sandbox.workspace import Channel, User, Workspace

__all__ = [
    "ApiCall",
    "AppResponse",
    "BlockKitError",
    "Channel",
    "Clock",
    "ElementNotFound",
    "Fault",
    "Forgery",
    "HttpReply",
    "InvalidInput",
    "ManualClock",
    "Message",
    "Request",
    "SandboxError",
    "SlackSandbox",
    "SubmissionResult",
    "User",
    "View",
    "Workspace",
    "file_reply",
    "sign",
    "validate_message_blocks",
    "validate_view",
]
