"""Figures, targets and the printed table / JSON document of a benchmark run."""

from __future__ import annotations

import math
import os
import platform
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) by linear interpolation between closest ranks."""
    if not values:
        return math.nan
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


@dataclass(frozen=True)
class Summary:
    n: int
    median: float
    p95: float
    p99: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Summary:
        return cls(len(values), percentile(values, 50), percentile(values, 95),
                   percentile(values, 99))

    @classmethod
    def single(cls, value: float) -> Summary:
        return cls(1, value, value, value)


Check = Callable[[Summary, Summary | None], bool]


@dataclass
class Row:
    """One measured case: its figures, its baseline's, and whether its target was met."""

    case: str
    unit: str
    n: int
    median: float
    p95: float
    p99: float
    baseline_median: float | None = None
    baseline_p99: float | None = None
    ratio: float | None = None
    ratio_p99: float | None = None
    target: str = ""
    met: bool | None = None
    note: str = ""

    @classmethod
    def of(cls, case: str, unit: str, stats: Summary, *, baseline: Summary | None = None,
           target: str = "", check: Check | None = None, note: str = "") -> Row:
        row = cls(case, unit, stats.n, stats.median, stats.p95, stats.p99, target=target,
                  note=note)
        if baseline is not None:
            row.baseline_median, row.baseline_p99 = baseline.median, baseline.p99
            row.ratio = _ratio(stats.median, baseline.median)
            row.ratio_p99 = _ratio(stats.p99, baseline.p99)
        if check is not None:
            row.met = check(stats, baseline)
        return row


def _ratio(value: float, base: float) -> float | None:
    return value / base if base > 0 else None


@dataclass
class ScenarioResult:
    name: str
    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"title": self.title, "seconds": round(self.seconds, 2), "error": self.error,
                "notes": self.notes, "rows": [_clean(asdict(r)) for r in self.rows]}


def from_json(doc: dict[str, Any]) -> list[ScenarioResult]:
    """The results of a saved run (``--json``), for re-rendering its table."""
    out = []
    for name, sc in doc["scenarios"].items():
        rows = [Row(**r) for r in sc["rows"]]
        out.append(ScenarioResult(name, sc["title"], rows, list(sc["notes"]),
                                  float(sc["seconds"]), sc["error"]))
    return out


def _clean(doc: dict[str, Any]) -> dict[str, Any]:
    """NaN (a figure nobody measured) becomes null, so the document is strict JSON."""
    return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in doc.items()}


def machine() -> dict[str, Any]:
    mem_kb = 0
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    mem_kb = int(line.split()[1])
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "memory_gib": round(mem_kb / 1024 / 1024, 1),
            "python": platform.python_version(), "platform": platform.platform(),
            "processor": _cpu_model(), "loadavg": _loadavg()}


def _loadavg() -> list[float]:
    """Other work on the machine while the run went (1, 5, 15 minute averages)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    digits = 2 if abs(value) < 10 else 1 if abs(value) < 1000 else 0
    return f"{value:,.{digits}f}{unit}"


HEADER = ("scenario", "case", "n", "median", "p95", "p99", "baseline", "ratio", "target",
          "met")


def table_rows(results: Sequence[ScenarioResult]) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for res in results:
        if res.error and not res.rows:
            out.append((res.name, f"ERROR: {res.error}", *("",) * 8))
        for r in res.rows:
            unit = f" {r.unit}"
            met = "-" if r.met is None else "yes" if r.met else "NO"
            out.append((res.name, r.case, str(r.n), _fmt(r.median, unit), _fmt(r.p95, unit),
                        _fmt(r.p99, unit), _fmt(r.baseline_median, unit),
                        _fmt(r.ratio, "x"), r.target, met))
    return out


def render_table(results: Sequence[ScenarioResult], *, markdown: bool = False) -> str:
    rows = [HEADER, *table_rows(results)]
    if markdown:
        lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
        lines += ["| " + " | ".join(c.replace("|", "/") for c in r) + " |" for r in rows[1:]]
        return "\n".join(lines)
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
    text = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
            for r in rows]
    text.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(text)


def render_notes(results: Sequence[ScenarioResult]) -> str:
    lines = [f"- {r.name}: {note}" for r in results for note in r.notes]
    lines += [f"- {r.name}: error: {r.error}" for r in results if r.error]
    return "\n".join(lines)
