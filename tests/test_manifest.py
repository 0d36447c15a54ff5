"""manifest.yml is valid against Slack's published schema and asks only for what we use."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).parents[1]
_SCHEMA_PATH = Path("shared", "slack", "schemas", "manifest.schema.1.0.0.json")
# Next to the checkout, or next to the folder of worktrees it may live in.
SCHEMA = next((p / _SCHEMA_PATH for p in ROOT.parents if (p / _SCHEMA_PATH).exists()),
              ROOT.parent / _SCHEMA_PATH)

# Web API methods the product calls (outside the sandbox) and the bot scope each needs.
SCOPE_OF = {
    "chat_postMessage": {"chat:write"},
    "chat_update": {"chat:write"},
    "chat_postEphemeral": {"chat:write"},
    "conversations_open": {"im:write"},
    "conversations_info": {"channels:read", "groups:read"},  # public and private routes
    "conversations_join": {"channels:join"},
    "usergroups_users_list": {"usergroups:read"},
    "users_info": {"users:read"},
    "users_lookupByEmail": {"users:read.email"},
}
NO_SCOPE = {"auth_test", "views_open", "views_update", "views_push", "views_publish",
            "chat_getPermalink"}


def manifest() -> dict[str, object]:
    data = yaml.safe_load((ROOT / "manifest.yml").read_text())
    assert isinstance(data, dict)
    return data


@pytest.mark.skipif(not SCHEMA.exists(), reason=f"Slack's manifest schema not found at {SCHEMA}")
def test_manifest_matches_slacks_schema() -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.validate(manifest(), schema)


def _methods_used() -> set[str]:
    used: set[str] = set()
    for path in (ROOT / "bot").rglob("*.py"):
        if "sandbox" in path.parts or "demo" in path.parts:
            continue
        used |= set(re.findall(r"\.(" + "|".join(SCOPE_OF.keys() | NO_SCOPE) + r")\(",
                               path.read_text()))
    return used


def test_scopes_are_exactly_what_the_code_uses() -> None:
    data = manifest()
    scopes = set(data["oauth_config"]["scopes"]["bot"])  # type: ignore[index]
    needed = set().union(*(SCOPE_OF[m] for m in _methods_used() if m in SCOPE_OF))
    assert scopes == needed


def test_interactivity_and_home_tab_are_on() -> None:
    data = manifest()
    settings, features = data["settings"], data["features"]
    assert settings["interactivity"]["is_enabled"] is True  # type: ignore[index]
    assert settings["interactivity"]["request_url"].endswith("/slack/events")  # type: ignore[index]
    assert features["app_home"]["home_tab_enabled"] is True  # type: ignore[index]
    assert "app_home_opened" in settings["event_subscriptions"]["bot_events"]  # type: ignore[index]
