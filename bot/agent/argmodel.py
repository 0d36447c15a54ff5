"""Moved to :mod:`bot.render.argmodel` (the agent and the Slack app both use it)."""

from bot.render.argmodel import model_from_schema, schema_of

__all__ = ["model_from_schema", "schema_of"]
