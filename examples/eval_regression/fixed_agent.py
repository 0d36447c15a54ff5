"""A stand-in for an agent that learned from its reviewers (used by signoff's own test of
this example): it answers each case with what the reviewer wanted."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def propose(request: dict[str, Any]) -> dict[str, Any]:
    cases = [json.loads(line) for line in
             Path(os.environ["SIGNOFF_EVAL_CASES"]).read_text().splitlines()]
    case = next(c for c in cases if c["request"] == request)
    if case["kind"] == "edited":
        return {"action": request["action"], "args": case["review"]["final_args"]}
    return {"escalate": "a reviewer corrected this before"}
