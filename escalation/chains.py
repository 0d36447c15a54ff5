"""On-call chains: the plan fixed into a ticket at creation, and the timeline it implies.

A chain is a cycle of waits. The request's card is posted at creation; each level's
``after`` is how long the request waits at the previous stage (the channel, for the first
level) before that level is DM'd. With ``loops: N`` the levels are gone through N times, the
first level of each new pass coming its ``after`` past the previous pass's last level. The
chain is **exhausted** when its next wait ends with nobody left to notify, i.e. the first
level's ``after`` past the last DM; that is the end of the chain, and the ticket expires
then, or at ``created + expire_after`` if that comes first. Expiry is a denial; nothing ever
approves because time passed.

Between steps, reminders go to the card's thread every ``remind_every``, counted afresh from
the start of each stage (creation, or the latest level's DM), never at the moment of a step,
and ``remind_max`` reminders at most over the ticket's life.

:func:`plan` resolves everything the moment it is called (schedules answer for the time each
level is due) and returns a JSON ``snapshot`` the ticket keeps, so editing ``signoff.yml``
never rewrites a request already waiting. :class:`Timeline` reads the snapshot back.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from escalation.durations import parse_duration
from escalation.schedules import Schedule
from store.errors import ConfigError

SNAPSHOT_VERSION = 1
SCHEDULE_PREFIX = "schedule:"
_TICK = timedelta(microseconds=1)


class LevelSpec(Protocol):
    @property
    def notify(self) -> Sequence[str]: ...
    @property
    def after(self) -> timedelta: ...
    @property
    def round_robin(self) -> bool: ...


class ChainSpec(Protocol):
    """What :func:`plan` reads from a chain (``escalation.config.Chain`` has it)."""

    @property
    def levels(self) -> Sequence[LevelSpec]: ...
    @property
    def remind_every(self) -> timedelta | None: ...
    @property
    def expire_after(self) -> timedelta: ...
    @property
    def loops(self) -> int: ...
    @property
    def remind_max(self) -> int | None: ...


class StepKind(StrEnum):
    REMIND = "remind"
    NOTIFY = "notify"
    EXPIRE = "expire"


@dataclass(frozen=True)
class PlannedLevel:
    """One level of one pass, with its people resolved for the moment it is due."""

    loop: int
    """0-based pass through the chain."""
    level: int
    """1-based level number."""
    at: datetime
    targets: tuple[str, ...]
    """Slack user ids and user-group ids (groups are expanded when the DMs go out)."""
    round_robin: bool = False
    via: Mapping[str, str] = field(default_factory=dict)
    """For targets that came from a schedule: user id → ``schedule:NAME``."""
    nobody: tuple[str, ...] = ()
    """Schedules that had nobody on call at ``at``."""

    def to_json(self) -> dict[str, Any]:
        return {"loop": self.loop, "level": self.level, "at": self.at.isoformat(),
                "targets": list(self.targets), "round_robin": self.round_robin,
                "via": dict(self.via), "nobody": list(self.nobody)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PlannedLevel:
        return cls(loop=int(data["loop"]), level=int(data["level"]),
                   at=datetime.fromisoformat(data["at"]), targets=tuple(data["targets"]),
                   round_robin=bool(data.get("round_robin", False)),
                   via=dict(data.get("via") or {}), nobody=tuple(data.get("nobody") or ()))


@dataclass(frozen=True)
class EscalationPlan:
    """What the agent-side client writes into ``NewTicket`` at creation."""

    snapshot: dict[str, Any]
    next_action_at: datetime
    expires_at: datetime
    levels: tuple[PlannedLevel, ...]
    end_of_chain: datetime | None


@dataclass(frozen=True)
class Step:
    """One thing the sweep does, identified by ``(loop, level, key)`` within its ticket."""

    kind: StepKind
    stage: int
    loop: int
    level: int
    """NOTIFY: the level DM'd. REMIND: the level the stage belongs to (0: the channel)."""
    number: int
    """REMIND: the reminder's number within its stage (from 1). Otherwise 0."""
    due: datetime

    @property
    def key(self) -> str:
        return f"remind:{self.number}" if self.kind is StepKind.REMIND else self.kind.value


def plan(chain: ChainSpec, *, created_at: datetime,
         schedules: Mapping[str, Schedule] | None = None,
         expire_override: timedelta | None = None, name: str | None = None) -> EscalationPlan:
    """Fix a chain for a request created at ``created_at``.

    ``expire_override`` (a policy rule's ``expire_after``) replaces the chain's hard deadline.
    """
    _require_aware(created_at)
    length = chain_length(chain)
    end = None if length is None else created_at + length
    expires_at = created_at + effective_expiry(chain, expire_override)
    levels = tuple(_planned_levels(chain, created_at, expires_at, schedules or {}))
    snapshot = {
        "v": SNAPSHOT_VERSION, "chain": name, "created_at": created_at.isoformat(),
        "expires_at": expires_at.isoformat(),
        "end_of_chain": None if end is None else end.isoformat(),
        "remind_every": _seconds(chain.remind_every), "remind_max": chain.remind_max,
        "loops": chain.loops, "levels": [level.to_json() for level in levels],
    }
    timeline = Timeline(snapshot, created_at=created_at, expires_at=expires_at)
    first = timeline.next_step(0, after=created_at)
    return EscalationPlan(snapshot=snapshot, next_action_at=first.due if first else expires_at,
                          expires_at=expires_at, levels=levels, end_of_chain=end)


def chain_length(chain: ChainSpec) -> timedelta | None:
    """How long after creation the chain is exhausted (``None`` for a chain without levels):
    every pass through the levels, then one first-level wait after the last DM."""
    if not chain.levels:
        return None
    period = sum((level.after for level in chain.levels), timedelta(0))
    return chain.loops * period + chain.levels[0].after


def effective_expiry(chain: ChainSpec, expire_override: timedelta | None = None) -> timedelta:
    """The one deadline a request on ``chain`` gets, counted from its creation: the earlier
    of ``expire_after`` (a rule's, else the chain's) and the end of the chain. Every
    command and card shows this figure, and :func:`plan` fixes it into the ticket."""
    hard = expire_override or chain.expire_after
    length = chain_length(chain)
    return hard if length is None else min(hard, length)


def _planned_levels(chain: ChainSpec, created_at: datetime, expires_at: datetime,
                    schedules: Mapping[str, Schedule]) -> Iterator[PlannedLevel]:
    at = created_at
    for loop in range(chain.loops):
        for number, spec in enumerate(chain.levels, start=1):
            at += spec.after
            if at >= expires_at:
                return
            targets, via, nobody = resolve_targets(spec.notify, at, schedules)
            yield PlannedLevel(loop=loop, level=number, at=at, targets=targets,
                               round_robin=spec.round_robin, via=via, nobody=nobody)


def resolve_targets(notify: Sequence[str], at: datetime, schedules: Mapping[str, Schedule]
                    ) -> tuple[tuple[str, ...], dict[str, str], tuple[str, ...]]:
    """Replace ``schedule:NAME`` by whoever is on call at ``at``; keep the order, drop repeats."""
    targets: dict[str, None] = {}
    via: dict[str, str] = {}
    nobody: list[str] = []
    for target in notify:
        if not target.startswith(SCHEDULE_PREFIX):
            targets.setdefault(target)
            continue
        name = target.removeprefix(SCHEDULE_PREFIX)
        if name not in schedules:
            raise ConfigError(f"unknown schedule {name!r}; defined: "
                              f"{', '.join(sorted(schedules)) or 'none'}")
        user = schedules[name].on_call(at)
        if user is None:
            nobody.append(target)
        else:
            targets.setdefault(user)
            via.setdefault(user, target)
    return tuple(targets), via, tuple(nobody)


class Timeline:
    """The steps a snapshot implies, in time order, from any stage on.

    Stage 0 runs from creation to the first level's DM; stage ``j`` from level ``j``'s DM
    (``levels[j-1]``) to the next DM, the last one to the ticket's expiry.
    """

    def __init__(self, snapshot: Mapping[str, Any] | None, *, created_at: datetime,
                 expires_at: datetime) -> None:
        data = _upgrade(snapshot, created_at)
        # The plan's own start: the ticket's creation, or the edit that re-routed it.
        start = data.get("created_at")
        self.created_at = datetime.fromisoformat(start) if start else created_at
        self.expires_at = expires_at
        self.levels = tuple(lvl for lvl in (PlannedLevel.from_json(x) for x in data["levels"])
                            if lvl.at < expires_at)
        every = data.get("remind_every")
        self.remind_every = timedelta(seconds=every) if every else None
        self.remind_max: int | None = data.get("remind_max")

    def stage_of(self, loop: int, level: int) -> int:
        """The stage a ticket is in, from its ``escalation_loop``/``escalation_level``."""
        if level <= 0:
            return 0
        for index, planned in enumerate(self.levels, start=1):
            if (planned.loop, planned.level) == (loop, level):
                return index
        raise ValueError(f"the chain has no level {level} in pass {loop + 1}")

    def stage_at(self, at: datetime) -> int:
        """The stage running at ``at`` by the plan's times alone."""
        return sum(1 for planned in self.levels if planned.at <= at)

    def planned(self, loop: int, level: int) -> PlannedLevel:
        return self.levels[self.stage_of(loop, level) - 1]

    def stage_bounds(self, stage: int) -> tuple[datetime, datetime]:
        start = self.created_at if stage == 0 else self.levels[stage - 1].at
        end = self.levels[stage].at if stage < len(self.levels) else self.expires_at
        return start, end

    def stage_owner(self, stage: int) -> tuple[int, int]:
        """``(loop, level)`` of a stage: ``(0, 0)`` is the channel's."""
        if stage == 0:
            return 0, 0
        planned = self.levels[stage - 1]
        return planned.loop, planned.level

    def steps(self, stage: int, *, since: datetime, inclusive: bool = True) -> Iterator[Step]:
        """Every step from ``stage`` on that is due at or after (or after) ``since``."""
        for index in range(stage, len(self.levels) + 1):
            yield from self._reminders(index, since, inclusive)
            if index < len(self.levels):
                planned = self.levels[index]
                step = Step(StepKind.NOTIFY, index + 1, planned.loop, planned.level, 0,
                            planned.at)
                if _after(step.due, since, inclusive):
                    yield step
        yield Step(StepKind.EXPIRE, len(self.levels), 0, 0, 0, self.expires_at)

    def due(self, stage: int, *, since: datetime, at: datetime) -> list[Step]:
        """The steps due by ``at``, starting at ``since`` (inclusive)."""
        out = []
        for step in self.steps(stage, since=since):
            if step.due > at:
                break
            out.append(step)
        return out

    def next_step(self, stage: int, *, after: datetime) -> Step | None:
        return next(self.steps(stage, since=after, inclusive=False), None)

    def reminder_slots(self, stage: int) -> int:
        """How many reminders fit in a stage, before the cap."""
        if self.remind_every is None:
            return 0
        start, end = self.stage_bounds(stage)
        return max(0, (end - start - _TICK) // self.remind_every)

    def _reminders(self, stage: int, since: datetime, inclusive: bool) -> Iterator[Step]:
        every = self.remind_every
        if every is None:
            return
        allowed = self.reminder_slots(stage)
        if self.remind_max is not None:
            used = sum(self.reminder_slots(s) for s in range(stage))
            allowed = min(allowed, max(0, self.remind_max - used))
        start, _end = self.stage_bounds(stage)
        loop, level = self.stage_owner(stage)
        first = max(1, _first_slot(start, every, since, inclusive))
        for number in range(first, allowed + 1):
            yield Step(StepKind.REMIND, stage, loop, level, number, start + number * every)


def _first_slot(start: datetime, every: timedelta, since: datetime, inclusive: bool) -> int:
    if since <= start:
        return 1
    whole, rest = divmod(since - start, every)
    return whole + (1 if rest or not inclusive else 0)


def _after(due: datetime, since: datetime, inclusive: bool) -> bool:
    return due >= since if inclusive else due > since


def _upgrade(snapshot: Mapping[str, Any] | None, created_at: datetime) -> Mapping[str, Any]:
    """Read any snapshot: none (expiry only), this module's, or a plain chain dump."""
    if not snapshot:
        return {"levels": []}
    if snapshot.get("v") == SNAPSHOT_VERSION:
        return snapshot
    legacy = _LegacyChain(snapshot)
    return plan(legacy, created_at=created_at, schedules=_Unresolved()).snapshot


class _LegacyLevel:
    def __init__(self, data: Mapping[str, Any]) -> None:
        self.notify: Sequence[str] = tuple(data.get("notify") or ())
        self.after = _duration(data["after"])
        self.round_robin = bool(data.get("round_robin", False))


class _LegacyChain:
    """A chain written into a ticket as ``Chain.model_dump(mode="json")``: no schedules
    resolved (their targets are kept as they are and cannot be DM'd)."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.levels: Sequence[LevelSpec] = [_LegacyLevel(x) for x in data.get("levels") or ()]
        every = data.get("remind_every")
        self.remind_every = _duration(every) if every else None
        self.expire_after = _duration(data.get("expire_after") or "1000d")
        self.loops = int(data.get("loops") or 1)
        self.remind_max: int | None = data.get("remind_max")


class _Unresolved(dict[str, Schedule]):
    """Every schedule name, with nobody on call: a legacy snapshot never resolved them."""

    def __contains__(self, key: object) -> bool:
        return True

    def __missing__(self, key: str) -> Schedule:
        return Schedule()


def _duration(value: Any) -> timedelta:
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    return parse_duration(str(value))


def _seconds(value: timedelta | None) -> int | float | None:
    if value is None:
        return None
    seconds = value.total_seconds()
    return int(seconds) if seconds.is_integer() else seconds


def _require_aware(at: datetime) -> None:
    if at.tzinfo is None:
        raise ValueError("created_at must be an aware datetime")
