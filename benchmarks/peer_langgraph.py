# mypy: disable-error-code="import-not-found"
"""LangGraph's pause/resume round trip, run inside a virtualenv that has ``langgraph`` and
``langgraph-checkpoint-sqlite`` (never imported by signoff itself).

    python peer_langgraph.py SAMPLES DB_PATH   → one JSON document on stdout

A one-node graph calls ``interrupt()`` (the pause, checkpointed to SQLite); the caller then
resumes it with ``Command(resume=...)``. ``create_ms`` times the run up to the pause,
``resume_ms`` the resume to the graph's end.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import time
from typing import Any, TypedDict


class State(TypedDict, total=False):
    action: str
    decision: str


def main(samples: int, db_path: str) -> dict[str, Any]:
    from langgraph.checkpoint.sqlite import SqliteSaver
    from langgraph.graph import END, START, StateGraph
    from langgraph.types import Command, interrupt

    def review(state: State) -> State:
        answer = interrupt({"action": state["action"], "question": "approve?"})
        return {"decision": str(answer)}

    builder = StateGraph(State)
    builder.add_node("review", review)
    builder.add_edge(START, "review")
    builder.add_edge("review", END)
    saver = SqliteSaver(sqlite3.connect(db_path, check_same_thread=False))
    graph = builder.compile(checkpointer=saver)
    create, resume = [], []
    for i in range(samples + 3):
        config = {"configurable": {"thread_id": f"bench-{i}"}}
        t0 = time.perf_counter()
        paused = graph.invoke({"action": "issue_refund"}, config)
        t1 = time.perf_counter()
        done = graph.invoke(Command(resume="approved"), config)
        t2 = time.perf_counter()
        assert "__interrupt__" in paused and done["decision"] == "approved"
        if i >= 3:
            create.append((t1 - t0) * 1000)
            resume.append((t2 - t1) * 1000)
    return {"create_ms": create, "resume_ms": resume, "peak_rss_mb": _hwm()}


def _hwm() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]), sys.argv[2])))
