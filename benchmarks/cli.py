"""``python -m benchmarks``: run the scenarios, print the table, write the JSON."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import (
    scen_ack,
    scen_audit,
    scen_batch,
    scen_gateway,
    scen_many,
    scen_mcp,
    scen_memory,
    scen_overhead,
    scen_peers,
    scen_resume,
    scen_sweep,
)
from benchmarks.env import SIZES, Bench, postgres_url
from benchmarks.report import (
    ScenarioResult,
    from_json,
    machine,
    render_notes,
    render_table,
)

Runner = Callable[[Bench], ScenarioResult]
SCENARIOS: dict[str, Runner] = {
    scen_ack.NAME: scen_ack.run,
    scen_overhead.NAME: scen_overhead.run,
    scen_resume.NAME: scen_resume.run,
    scen_sweep.NAME: scen_sweep.run,
    scen_peers.NAME: scen_peers.run,
    scen_memory.NAME: scen_memory.run,
    scen_gateway.NAME: scen_gateway.run,
    scen_audit.NAME: scen_audit.run,
    scen_many.NAME: scen_many.run,
    scen_mcp.NAME: scen_mcp.run,
    scen_batch.NAME: scen_batch.run,
}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks",
                                description="Measure signoff's speed and scale.")
    p.add_argument("--size", choices=sorted(SIZES), default="tiny",
                   help="tiny (CI, about a minute) or full (the published figures)")
    p.add_argument("--only", action="append", metavar="NAME", choices=sorted(SCENARIOS),
                   help="run only this scenario (repeatable)")
    p.add_argument("--json", type=Path, metavar="PATH", help="write the results here")
    p.add_argument("--postgres-url", help="PostgreSQL server for the PostgreSQL cases "
                   "(default: $SIGNOFF_TEST_POSTGRES_URL; a throw-away schema is used)")
    p.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    p.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    p.add_argument("--show", type=Path, metavar="PATH",
                   help="print the table of a saved --json run instead of running")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.show:
        saved = from_json(json.loads(args.show.read_text()))
        print(render_table(saved, markdown=args.markdown))
        return 0
    logging.basicConfig(level=logging.WARNING)
    names = args.only or list(SCENARIOS)
    started = time.monotonic()
    load_before = machine()["loadavg"]
    workdir = Path(tempfile.mkdtemp(prefix="signoff-bench-"))
    bench = Bench(SIZES[args.size], workdir, postgres_url(args.postgres_url))
    results = [_run_one(name, bench) for name in names]
    doc = _document(args.size, results, time.monotonic() - started)
    doc["machine"]["loadavg_before"] = load_before
    print(render_table(results, markdown=args.markdown))
    notes = render_notes(results)
    if notes:
        print("\nNotes:\n" + notes)
    if args.json:
        args.json.write_text(json.dumps(doc, indent=2) + "\n")
    if args.keep:
        print(f"\nwork directory: {workdir}")
    else:
        _cleanup(workdir)
    return 1 if any(r.error for r in results) else 0


def _run_one(name: str, bench: Bench) -> ScenarioResult:
    print(f"running {name} ({bench.size.name})...", file=sys.stderr, flush=True)
    started = time.monotonic()
    try:
        result = SCENARIOS[name](bench)
    except Exception as exc:
        traceback.print_exc()
        result = ScenarioResult(name, name, error=f"{type(exc).__name__}: {exc}")
    result.seconds = time.monotonic() - started
    print(f"  {name}: {result.seconds:.1f} s", file=sys.stderr, flush=True)
    return result


def _document(size: str, results: Sequence[ScenarioResult], seconds: float) -> dict[str, Any]:
    return {"size": size, "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            "seconds": round(seconds, 1), "machine": machine(),
            "scenarios": {r.name: r.to_json() for r in results}}


def _cleanup(workdir: Path) -> None:
    import shutil

    shutil.rmtree(workdir, ignore_errors=True)
