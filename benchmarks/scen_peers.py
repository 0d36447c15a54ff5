"""5. Peers on the same machine in the same run: signoff's request → decision → resume on
SQLite, LangGraph's ``interrupt()`` / ``Command(resume=...)`` round trip with its SQLite
checkpointer, and awaithumans 0.1.12 (``await_human`` with a Slack ``view_submission``).

Peers run only at full size, each from its own virtualenv; one that cannot be installed or
run is skipped with a note (awaithumans then shows the figures published with the issue,
labelled as not measured here)."""

from __future__ import annotations

import math

from benchmarks import peers
from benchmarks.env import Bench
from benchmarks.report import Row, ScenarioResult, Summary
from benchmarks.scen_resume import measure

NAME = "peers"
TITLE = "Peers: request → decision → resume, same machine, same run"
FASTER = 5.0
REFERENCE = "reference, not measured here"
AWAITHUMANS_REFERENCE = {"create": Summary(0, 33.0, math.nan, math.nan),
                         "resume": Summary(0, 550.0, 975.0, math.nan),
                         "rss": Summary(0, 115.0, math.nan, math.nan)}


def run(bench: Bench) -> ScenarioResult:
    result = ScenarioResult(NAME, TITLE)
    ours = measure(bench, "sqlite", bench.size.peer_samples)
    create, resume = Summary.of(ours.create), Summary.of(ours.resume)
    idle = Summary.single(ours.serve_idle_rss_mb)
    theirs = _awaithumans(bench, result) if bench.size.peers else None
    result.rows += [
        Row.of("signoff: create (client.request)", "ms", create),
        _faster("signoff: decision → resume", resume, theirs["resume"] if theirs else None),
        _leaner("signoff serve: idle RSS", idle, theirs["rss"] if theirs else None),
    ]
    if theirs:
        note = f" ({REFERENCE})" if theirs["create"].n == 0 else ""
        result.rows += [Row.of(f"awaithumans: create{note}", "ms", theirs["create"]),
                        Row.of(f"awaithumans: decision → return{note}", "ms", theirs["resume"]),
                        Row.of(f"awaithumans server: idle RSS{note}", "MB", theirs["rss"])]
    if bench.size.peers:
        result.rows += _langgraph(bench, result, resume)
    else:
        result.notes.append("peers run at --size full only; signoff's side measured alone")
    return result


def _faster(case: str, ours: Summary, theirs: Summary | None) -> Row:
    def check(stats: Summary, base: Summary | None) -> bool:
        return base is not None and stats.median * FASTER <= base.median

    return Row.of(case, "ms", ours, baseline=theirs, target=f"≥{FASTER:g}x faster than "
                  "awaithumans (median)" if theirs else "", check=check if theirs else None)


def _leaner(case: str, ours: Summary, theirs: Summary | None) -> Row:
    def check(stats: Summary, base: Summary | None) -> bool:
        return base is not None and stats.median < base.median

    return Row.of(case, "MB", ours, baseline=theirs,
                  target="leaner than awaithumans" if theirs else "",
                  check=check if theirs else None)


def _awaithumans(bench: Bench, result: ScenarioResult) -> dict[str, Summary]:
    workdir = bench.workdir / "awaithumans"
    workdir.mkdir(exist_ok=True)
    try:
        doc = peers.run(peers.AWAITHUMANS, str(bench.size.peer_samples), str(workdir))
    except peers.PeerUnavailable as exc:
        result.notes.append(f"awaithumans not measured ({exc}); its rows are the figures "
                            f"published with the issue: {REFERENCE}")
        return AWAITHUMANS_REFERENCE
    result.notes.append("awaithumans 0.1.12: `awaithumans dev` on loopback (SQLite), "
                        "await_human() in a client process, decision as a signed Slack "
                        "view_submission at a random point of its once-a-second check")
    return {"create": Summary.of(doc["create_ms"]), "resume": Summary.of(doc["resume_ms"]),
            "rss": Summary.single(float(doc["server_idle_rss_mb"]))}


def _langgraph(bench: Bench, result: ScenarioResult, ours: Summary) -> list[Row]:
    try:
        doc = peers.run(peers.LANGGRAPH, str(bench.size.peer_samples),
                        str(bench.workdir / "langgraph.db"))
    except peers.PeerUnavailable as exc:
        result.notes.append(f"LangGraph not measured: {exc}")
        return []
    result.notes.append("LangGraph: in-process graph, SqliteSaver; its resume has no "
                        "reviewer channel, HTTP hop or other process in it")
    create, resume = Summary.of(doc["create_ms"]), Summary.of(doc["resume_ms"])
    return [Row.of("LangGraph: run to interrupt()", "ms", create),
            Row.of("LangGraph: Command(resume=...) to end", "ms", resume, baseline=ours,
                   note="ratio: LangGraph / signoff decision → resume")]
