"""The framework adapters run against the same rig as the end-to-end tests: the local Slack
server, the bot behind its HTTP server, a real database, and the gateway for HTTP agents."""

from __future__ import annotations

from tests.e2e.conftest import client, gate, rig

__all__ = ["client", "gate", "rig"]
