"""The README's webhook verifiers (Python and TypeScript) accept what signoff signs and
refuse a changed body."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from bot.webhooks import signature

README = Path(__file__).resolve().parents[1] / "README.md"
BODY = b'{"id":"evt_t1_2","type":"ticket.approved","data":{"ticket_id":"t1"}}'
SECRET = "whsec_test"


def _snippet(lang: str, marker: str) -> str:
    blocks = re.findall(rf"```{lang}\n(.*?)```", README.read_text(), flags=re.S)
    found = [b for b in blocks if marker in b]
    assert found, f"no {lang} block with {marker} in the README"
    return found[0]


def test_the_python_snippet_verifies_a_signed_webhook() -> None:
    scope: dict[str, Any] = {}
    exec(_snippet("python", "def verify_signoff"), scope)
    header = signature(SECRET, BODY, int(time.time()))
    assert scope["verify_signoff"](BODY, header, SECRET)
    assert not scope["verify_signoff"](BODY + b" ", header, SECRET)
    old = signature(SECRET, BODY, int(time.time()) - 301)
    assert not scope["verify_signoff"](BODY, old, SECRET)


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node")
def test_the_typescript_snippet_verifies_a_signed_webhook(tmp_path: Path) -> None:
    ts = _snippet("typescript", "verifySignoff")
    js = re.sub(r":\s*(Buffer|string|boolean)\b", "", ts).replace("export function",
                                                                 "function")
    header = signature(SECRET, BODY, int(time.time()))
    script = tmp_path / "verify.mjs"
    script.write_text(js + f"""
const body = Buffer.from({BODY.decode()!r});
console.log(verifySignoff(body, {header!r}, {SECRET!r}),
            verifySignoff(Buffer.concat([body, Buffer.from(" ")]), {header!r}, {SECRET!r}));
""")
    out = subprocess.run(["node", str(script)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["true", "false"]
