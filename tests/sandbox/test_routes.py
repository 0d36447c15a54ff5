"""The public hooks for a program that serves its own page from the sandbox: add_route and
mount_static, over real HTTP."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from slack_sdk import WebClient

from bot.sandbox import HttpReply, Request, SlackSandbox


def fetch(sb: SlackSandbox, path: str, body: bytes | None = None
          ) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(sb.base_url + path, data=body,
                                     method="GET" if body is None else "POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as failed:
        return failed.code, dict(failed.headers.items()), failed.read()


@pytest.fixture
def site(tmp_path: Path) -> Path:
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text("<h1>home</h1>", encoding="utf-8")
    (tmp_path / "site" / "app.js").write_text("go()", encoding="utf-8")
    (tmp_path / "site" / "css").mkdir()
    (tmp_path / "site" / "css" / "a.css").write_text("b{}", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("keep out", encoding="utf-8")
    return tmp_path / "site"


def test_mounted_files_are_served_with_their_types(sandbox: SlackSandbox, site: Path) -> None:
    sandbox.mount_static("/app/", site)
    status, headers, body = fetch(sandbox, "/app/app.js")
    assert (status, body) == (200, b"go()")
    assert headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert headers["Cache-Control"] == "no-store"
    assert fetch(sandbox, "/app/css/a.css")[1]["Content-Type"] == "text/css; charset=utf-8"
    assert fetch(sandbox, "/app/")[2] == b"<h1>home</h1>"
    assert fetch(sandbox, "/app/missing.js")[0] == 404


def test_nothing_outside_the_directory_is_served(sandbox: SlackSandbox, site: Path) -> None:
    sandbox.mount_static("/app/", site, index=None)
    assert fetch(sandbox, "/app/")[0] == 404
    for path in ("/app/../secret.txt", "/app/%2e%2e/secret.txt", "/app/css/../../secret.txt",
                 "/app/css"):
        status, _, body = fetch(sandbox, path)
        assert status == 404 and b"keep out" not in body, path


def test_routes_win_over_mounts_and_longer_prefixes_over_shorter(sandbox: SlackSandbox,
                                                                 site: Path) -> None:
    seen: list[Request] = []

    def info(request: Request) -> HttpReply:
        seen.append(request)
        return HttpReply.json(200, {"query": request.query, "body": request.body.decode()})

    sandbox.mount_static("/", site)
    sandbox.mount_static("/app/", site / "css", index=None)
    sandbox.add_route("GET", "/app/info.json", info)
    sandbox.add_route("post", "/hook", info)
    assert fetch(sandbox, "/")[2] == b"<h1>home</h1>"
    assert fetch(sandbox, "/app.js")[2] == b"go()"
    assert fetch(sandbox, "/app/a.css")[2] == b"b{}"  # /app/ is css/, not the root mount
    assert fetch(sandbox, "/app/app.js")[0] == 404
    status, _, body = fetch(sandbox, "/app/info.json?x=1")
    assert status == 200 and json.loads(body)["query"] == "x=1"
    assert json.loads(fetch(sandbox, "/hook", b"ping")[2])["body"] == "ping"
    assert [(r.method, r.path) for r in seen] == [("GET", "/app/info.json"), ("POST", "/hook")]
    assert fetch(sandbox, "/hook")[0] == 404  # GET /hook is no route, and no file


def test_the_sandboxs_own_paths_cannot_be_covered(sandbox: SlackSandbox, client: WebClient,
                                                  site: Path) -> None:
    for path in ("/api/chat.postMessage", "/_sandbox/state", "/actions/x"):
        with pytest.raises(ValueError):
            sandbox.add_route("GET", path, lambda _r: HttpReply.json(200, {}))
    with pytest.raises(ValueError):
        sandbox.mount_static("/api/", site)
    with pytest.raises(ValueError):
        sandbox.mount_static("app", site)
    with pytest.raises(ValueError):
        sandbox.mount_static("/app/", site / "app.js")
    sandbox.mount_static("/", site)  # a root mount still leaves the API and controls alone
    assert client.auth_test()["ok"]
    status, _, body = fetch(sandbox, "/_sandbox/state")
    assert status == 200 and json.loads(body)["ok"] is True


def test_without_hooks_the_root_is_the_sandbox_index(sandbox: SlackSandbox) -> None:
    status, _, body = fetch(sandbox, "/")
    assert status == 200 and json.loads(body)["control"] == "/_sandbox/"
