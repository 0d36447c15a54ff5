"""The ``mcp:`` section of ``signoff.yml``: the MCP servers ``signoff mcp-proxy`` fronts.

    mcp:
      requested_by: U0ALICE          # the Slack user the proxied client acts for
      wait: 50s                      # how long one tools/call waits for a reviewer
      upstreams:
        files: {command: python, args: [-m, files_server], env: {ROOT: /srv}}
        db: {url: "http://127.0.0.1:9000/mcp", trust_annotations: true}
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from escalation.durations import Duration

_UPSTREAM_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-")


def _upstream_name(value: str) -> str:
    if not value or not set(value) <= _UPSTREAM_CHARS:
        raise PydanticCustomError("signoff", "{message}", {
            "message": f"upstream name {value!r} is not a plain name",
            "fix": "use lower-case letters, digits, '-' or '_' (it prefixes action names)"})
    return value


UpstreamName = Annotated[str, AfterValidator(_upstream_name)]


class McpUpstream(BaseModel):
    """One MCP server: a command launched over stdio, or a streamable-HTTP URL."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    command: str | None = None
    args: tuple[str, ...] = ()
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None
    url: str | None = None
    trust_annotations: bool = False
    """Whether its tools' annotations (``readOnlyHint``...) may loosen policy: an ``allow``
    rule on ``annotations.*`` matches only for a server you trust to describe its tools
    honestly. Untrusted annotations still tighten (deny and review rules read them)."""

    @model_validator(mode="after")
    def _one_transport(self) -> McpUpstream:
        if (self.command is None) == (self.url is None):
            raise PydanticCustomError("signoff", "{message}", {
                "message": "an upstream needs exactly one of command (stdio) or url (HTTP)",
                "fix": "give `command: ...` (with args/env) or `url: http://host/mcp`"})
        if self.url is not None and (self.args or self.env or self.cwd):
            raise PydanticCustomError("signoff", "{message}", {
                "message": "args, env and cwd only apply to a command upstream",
                "fix": "drop them, or use command: instead of url:"})
        if self.url is not None and not self.url.startswith(("http://", "https://")):
            raise PydanticCustomError("signoff", "{message}", {
                "message": f"url {self.url!r} is not an http(s) URL",
                "fix": "use the server's streamable-HTTP endpoint, e.g. http://host:8000/mcp"})
        return self


class McpConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    upstreams: dict[UpstreamName, McpUpstream] = Field(default_factory=dict)
    requested_by: str | None = None
    """The Slack user id the proxied MCP client acts for (or SIGNOFF_MCP_REQUESTED_BY)."""
    wait: Duration = Field(default=timedelta(seconds=50), json_schema_extra={"default": "50s"})
    """How long one tools/call waits for a reviewer before answering "pending, ask again";
    under typical MCP client tool-call timeouts (60 s)."""
