"""PagerDuty escalation policies and schedules (REST API v2 JSON) to signoff chains and back.

Timelines. PagerDuty notifies rule 1 when an incident starts and moves on after each rule's
``escalation_delay_in_minutes``; ``num_loops`` is how many times the policy *repeats*.
In signoff the card in the channel comes first and each level's ``after`` is the wait before
it (see ``escalation.chains``). The import keeps every rule's window exactly:

- level ``k+1``'s ``after`` is rule ``k``'s delay (the time rule ``k`` had to answer);
- level 1's ``after`` is the **last** rule's delay: the channel's time before level 1, and,
  as in PagerDuty, the last level's time before the next pass (or, after the last pass,
  before the request expires);
- ``loops`` = ``num_loops + 1``; round robin rules become ``round_robin: true``.

So a signoff chain runs PagerDuty's timeline shifted by the last rule's delay, and
:func:`to_pagerduty` turns it back into the same rules. ``on_call_handoff_notifications``
has no counterpart in signoff and is dropped.

Schedules: PagerDuty lists layers highest priority first; signoff lists them lowest first
(a later layer covers an earlier one), so the order is reversed. People are mapped to Slack
user ids by an identity map keyed by PagerDuty user id or email; an unmapped person is an
error (an import must never drop somebody silently).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from escalation.chains import SCHEDULE_PREFIX, ChainSpec
from escalation.durations import format_duration
from escalation.schedules import Schedule
from store.errors import ImportProblem

USER_TYPES = ("user_reference", "user")
SCHEDULE_TYPES = ("schedule_reference", "schedule")
MAX_LOOPS = 10


# -- reading PagerDuty's JSON ------------------------------------------------------------------


def unwrap_policy(data: Any) -> Mapping[str, Any]:
    """``{"escalation_policy": {...}}`` (what the API returns) or the policy itself."""
    policy = data.get("escalation_policy", data) if isinstance(data, Mapping) else None
    if not isinstance(policy, Mapping) or "escalation_rules" not in policy:
        raise ImportProblem("not a PagerDuty escalation policy: no escalation_rules found")
    return policy


def unwrap_schedules(data: Any) -> list[Mapping[str, Any]]:
    """One schedule, ``{"schedule": …}``, ``{"schedules": […]}`` or a list of them; a
    top-level ``overrides`` list (``GET /schedules/{id}/overrides``) joins a lone schedule."""
    if isinstance(data, list):
        return [s for item in data for s in unwrap_schedules(item)]
    if not isinstance(data, Mapping):
        raise ImportProblem("a schedules file must hold a JSON object or list")
    if "schedules" in data:
        return unwrap_schedules(list(data["schedules"]))
    schedule = dict(data.get("schedule", data))
    if "schedule" in data and "overrides" in data:
        schedule["overrides"] = [*schedule.get("overrides", []), *data["overrides"]]
    if "schedule_layers" not in schedule:
        raise ImportProblem("not a PagerDuty schedule: no schedule_layers found")
    return [schedule]


def is_round_robin(rule: Mapping[str, Any]) -> bool:
    """``"round_robin"``, ``{"type": "round_robin"}``, ``[{"type": "round_robin"}]``
    (Terraform), or a boolean ``round_robin``."""
    if isinstance(rule.get("round_robin"), bool):
        return bool(rule["round_robin"])
    strategy = rule.get("escalation_rule_assignment_strategy")
    if isinstance(strategy, list):
        strategy = strategy[0] if strategy else None
    if isinstance(strategy, Mapping):
        strategy = strategy.get("type")
    return isinstance(strategy, str) and strategy.strip().lower() == "round_robin"


class Identities:
    """PagerDuty user id or email → Slack user id."""

    def __init__(self, mapping: Mapping[str, Any]) -> None:
        users = mapping.get("users", mapping)
        if not isinstance(users, Mapping):
            raise ImportProblem("the identity map must map PagerDuty ids or emails to Slack ids")
        self.by_key = {str(k).strip().lower(): str(v) for k, v in users.items()}
        self.missing: list[str] = []

    def slack(self, ref: Mapping[str, Any]) -> str:
        for key in (ref.get("id"), ref.get("email")):
            if isinstance(key, str) and key.strip().lower() in self.by_key:
                return self.by_key[key.strip().lower()]
        shown = ref.get("summary") or ref.get("email") or ref.get("id") or "?"
        self.missing.append(f"{shown} ({ref.get('id')})" if ref.get("id") != shown else shown)
        return ""

    def check(self) -> None:
        if self.missing:
            raise ImportProblem("no Slack user for PagerDuty user(s): "
                                + ", ".join(dict.fromkeys(self.missing))
                                + "; add them to the identity map (PagerDuty id or email: U…)")


def slug(name: str, fallback: str) -> str:
    text = re.sub(r"[^A-Za-z0-9_-]+", "-", name.strip()).strip("-_").lower()[:64]
    return text or fallback


# -- importing ---------------------------------------------------------------------------------


def import_policy(policy_json: Any, identity: Mapping[str, Any], *,
                  schedules_json: Any = None, name: str | None = None,
                  expire_after: timedelta | None = None,
                  remind_every: timedelta | None = None) -> dict[str, Any]:
    """The ``chains:`` and ``schedules:`` sections (plain data) for one policy."""
    policy = unwrap_policy(policy_json)
    people = Identities(identity)
    pd_schedules = unwrap_schedules(schedules_json) if schedules_json is not None else []
    names = {str(s.get("id")): slug(str(s.get("name") or s.get("id")), "schedule")
             for s in pd_schedules}
    rules = list(policy["escalation_rules"])
    if not rules:
        raise ImportProblem("the escalation policy has no rules")
    delays = [_delay(rule, i) for i, rule in enumerate(rules, start=1)]
    levels = []
    for index, rule in enumerate(rules):
        after = delays[index - 1]  # index 0 takes the last rule's delay
        levels.append(_level(rule, after, people, names))
    schedules = {names[str(s.get("id"))]: _schedule(s, people) for s in pd_schedules}
    people.check()
    loops = min(MAX_LOOPS, int(policy.get("num_loops") or 0) + 1)
    chain: dict[str, Any] = {"levels": levels, "loops": loops}
    end = sum(delays, timedelta(0)) * loops + delays[-1]
    chain["expire_after"] = format_duration(expire_after or end)
    if remind_every is not None:
        chain["remind_every"] = format_duration(remind_every)
    chain_name = name or slug(str(policy.get("name") or policy.get("id") or ""), "pagerduty")
    out: dict[str, Any] = {"chains": {chain_name: chain}}
    if schedules:
        out["schedules"] = schedules
    return out


def _delay(rule: Mapping[str, Any], number: int) -> timedelta:
    minutes = rule.get("escalation_delay_in_minutes")
    if not isinstance(minutes, int) or isinstance(minutes, bool) or minutes <= 0:
        raise ImportProblem(f"rule {number}: escalation_delay_in_minutes must be a positive "
                            f"whole number (got {minutes!r})")
    return timedelta(minutes=minutes)


def _level(rule: Mapping[str, Any], after: timedelta, people: Identities,
           names: Mapping[str, str]) -> dict[str, Any]:
    notify = []
    for target in rule.get("targets") or ():
        kind, ident = target.get("type"), str(target.get("id"))
        if kind in USER_TYPES:
            notify.append(people.slack(target))
        elif kind in SCHEDULE_TYPES:
            if ident not in names:
                raise ImportProblem(f"schedule {target.get('summary') or ident} ({ident}) is a "
                                    "target but was not given; pass its JSON with --schedules")
            notify.append(SCHEDULE_PREFIX + names[ident])
        else:
            raise ImportProblem(f"unsupported escalation target type {kind!r}")
    if not notify:
        raise ImportProblem("an escalation rule has no targets")
    level: dict[str, Any] = {"notify": notify, "after": format_duration(after)}
    if is_round_robin(rule):
        level["round_robin"] = True
    return level


def _schedule(data: Mapping[str, Any], people: Identities) -> dict[str, Any]:
    layers = [_layer(layer, people) for layer in reversed(data.get("schedule_layers") or [])]
    overrides = [{"start": o["start"], "end": o["end"], "user": people.slack(o["user"])}
                 for o in data.get("overrides") or []]
    out: dict[str, Any] = {"time_zone": data.get("time_zone") or "UTC", "layers": layers}
    if overrides:
        out["overrides"] = overrides
    return out


def _layer(data: Mapping[str, Any], people: Identities) -> dict[str, Any]:
    layer: dict[str, Any] = {"start": data["start"]}
    if data.get("name"):
        layer = {"name": data["name"], **layer}
    if data.get("end"):
        layer["end"] = data["end"]
    if data.get("rotation_virtual_start"):
        layer["rotation_start"] = data["rotation_virtual_start"]
    layer["turn"] = format_duration(timedelta(seconds=int(data["rotation_turn_length_seconds"])))
    layer["users"] = [people.slack(u.get("user", u)) for u in data.get("users") or []]
    restrictions = [_restriction(r) for r in data.get("restrictions") or []]
    if restrictions:
        layer["restrictions"] = restrictions
    return layer


def _restriction(data: Mapping[str, Any]) -> dict[str, Any]:
    kind = str(data.get("type", "")).removesuffix("_restriction")
    if kind not in ("daily", "weekly"):
        raise ImportProblem(f"unsupported restriction type {data.get('type')!r}")
    out: dict[str, Any] = {"type": kind, "start": str(data["start_time_of_day"])[:5],
                           "duration": format_duration(
                               timedelta(seconds=int(data["duration_seconds"])))}
    if kind == "weekly":
        out["day"] = int(data["start_day_of_week"])
    return out


# -- exporting (the other way round) -------------------------------------------------------------


def to_pagerduty(chain: ChainSpec, *, users: Mapping[str, str],
                 schedules: Mapping[str, str], name: str = "") -> dict[str, Any]:
    """A signoff chain as a PagerDuty escalation policy. ``users``: Slack id → PagerDuty id;
    ``schedules``: signoff schedule name → PagerDuty schedule id."""
    if not chain.levels:
        raise ImportProblem("a chain without levels has no PagerDuty counterpart")
    levels = list(chain.levels)
    rules = []
    for index, level in enumerate(levels):
        window = levels[(index + 1) % len(levels)].after
        targets = [_target(t, users, schedules) for t in level.notify]
        strategy = "round_robin" if level.round_robin else "assign_to_everyone"
        rules.append({"escalation_delay_in_minutes": _minutes(window), "targets": targets,
                      "escalation_rule_assignment_strategy": {"type": strategy}})
    return {"escalation_policy": {"type": "escalation_policy", "name": name,
                                  "num_loops": chain.loops - 1, "escalation_rules": rules}}


def schedule_to_pagerduty(schedule: Schedule, *, users: Mapping[str, str]) -> dict[str, Any]:
    layers = []
    for layer in reversed(schedule.layers):
        layers.append({
            "name": layer.name, "start": layer.start.isoformat(),
            "end": layer.end.isoformat() if layer.end else None,
            "rotation_virtual_start": (layer.rotation_start or layer.start).isoformat(),
            "rotation_turn_length_seconds": int(layer.turn.total_seconds()),
            "users": [{"user": {"id": users[u], "type": "user_reference"}} for u in layer.users],
            "restrictions": [_restriction_out(r) for r in layer.restrictions]})
    overrides = [{"start": o.start.isoformat(), "end": o.end.isoformat(),
                  "user": {"id": users[o.user], "type": "user_reference"}}
                 for o in schedule.overrides]
    return {"time_zone": schedule.time_zone, "schedule_layers": layers, "overrides": overrides}


def _restriction_out(r: Any) -> dict[str, Any]:
    out = {"type": f"{r.type}_restriction", "start_time_of_day": r.start.strftime("%H:%M:%S"),
           "duration_seconds": int(r.duration.total_seconds())}
    if r.day is not None:
        out["start_day_of_week"] = r.day
    return out


def _target(target: str, users: Mapping[str, str], schedules: Mapping[str, str]
            ) -> dict[str, str]:
    if target.startswith(SCHEDULE_PREFIX):
        return {"id": schedules[target.removeprefix(SCHEDULE_PREFIX)],
                "type": "schedule_reference"}
    return {"id": users[target], "type": "user_reference"}


def _minutes(value: timedelta) -> int:
    return -(-int(value.total_seconds()) // 60)


def reverse_identity(identity: Mapping[str, Any]) -> dict[str, str]:
    """Slack id → PagerDuty id (entries keyed by email are left out)."""
    users = identity.get("users", identity)
    return {str(v): str(k) for k, v in users.items() if "@" not in str(k)}


def schedule_ids(schedules_json: Any) -> dict[str, str]:
    """signoff schedule name (as imported) → PagerDuty schedule id."""
    return {slug(str(s.get("name") or s.get("id")), "schedule"): str(s.get("id"))
            for s in unwrap_schedules(schedules_json)}
