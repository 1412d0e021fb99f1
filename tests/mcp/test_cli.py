"""`orchestrator mcp ...` as a user runs it: subprocesses on a temporary data directory,
against the project's own MCP servers over stdio and streamable HTTP."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestrator.devserver import free_port
from orchestrator.mcp.views import LIST_S
from tests.mcp.support import ROOT, Cli, HttpServerProcess, add_stdio


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "data")


def test_add_list_tools_remove_round_trip(
    cli: Cli, tmp_path: Path, cloud_http: HttpServerProcess
) -> None:
    state = str(tmp_path / "gh.json")
    code, out, err = cli(*add_stdio("github", "github_server", "--state", state),
                         "--env", "GITHUB_TOKEN=ghp-secret")
    assert code == 0, err
    assert f"added MCP server 'github' to {cli.config} (10 tools)" in out
    hints = {"tools": {"provision_cluster": {"produces": ["cluster"]}}}
    code, out, err = cli("add", "cloud", "--url", cloud_http.url, "--header", "X-Key=k-secret",
                         "--options", json.dumps(hints))
    assert code == 0, err
    assert cli.saved()["github"]["env"] == {"GITHUB_TOKEN": "ghp-secret"}
    assert cli.saved()["cloud"] == {"url": cloud_http.url, "headers": {"X-Key": "k-secret"},
                                    "orchestrator": hints}

    code, out, err = cli("list")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "TRANSPORT", "TARGET", "TOOLS", "STATUS"]
    assert lines[1].split()[:2] == ["cloud", "http"] and lines[1].split()[-1] == "ready"
    assert lines[2].split()[:2] == ["github", "stdio"] and lines[2].split()[-2:] == ["10", "ready"]
    assert "secret" not in out

    code, out, err = cli("list", "--json")
    listed = {s["name"]: s for s in json.loads(out)}
    assert listed["github"]["env_keys"] == ["GITHUB_TOKEN"] and "secret" not in out

    code, out, err = cli("tools", "github")
    assert code == 0, err
    assert out.startswith("github (stdio, ready): 10 tools")
    [delete] = [line.split() for line in out.splitlines() if "delete_repository " in line]
    assert delete[:3] == ["mcp.github.delete_repository", "delete_repository", "sensitive"]

    # Read by a pager or `head` that stops early: no traceback.
    reader = subprocess.Popen(
        [sys.executable, "-m", "orchestrator.cli", "mcp", "tools", "github"], cwd=ROOT,
        env=cli.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert reader.stdout is not None and reader.stderr is not None
    reader.stdout.close()  # the reader has gone before the first line
    assert "Traceback" not in reader.stderr.read().decode()
    assert reader.wait(timeout=60) != 0

    code, out, err = cli("remove", "github")
    assert code == 0 and "removed MCP server 'github'" in out, err
    assert sorted(cli.saved()) == ["cloud"]
    code, out, err = cli("remove", "github")
    assert code == 2 and "no MCP server named 'github'" in err


@pytest.mark.parametrize(("args", "message"), [
    (["add", "x", "--command", "python; rm -rf ~"], "command: must be one executable"),
    (["add", "x", "--command", "npx some-server"], "put its arguments in 'args'"),
    (["add", "x y", "--url", "http://127.0.0.1:1/mcp"], "name: use 1-40 letters"),
    (["add", "x", "--url", "http://127.0.0.1:1/mcp", "--env", "A=1"], "go with --command"),
    (["add", "x", "--command", "python", "--env", "NOVALUE"], "--env 'NOVALUE': use KEY=VALUE"),
    (["add", "x", "--command", "python", "--options", "{tools"], "--options is not JSON"),
    (["add", "x", "--command", "python", "--options", "[]"], "--options must be a JSON object"),
    (["add", "x", "--command", "python", "--options", '{"tools": {"t": {"produces": "repo"}}}'],
     "orchestrator.tools.t.produces"),
    # Refused without connecting: whatever the server offers, nothing would be left.
    (["add", "x", "--url", "http://127.0.0.1:1/mcp", "--no-connect",
      "--options", '{"exclude_tools": ["*"]}'],
     "orchestrator.exclude_tools: '*' excludes every tool, so the server would serve nothing"),
    (["add", "x", "--url", "http://127.0.0.1:1/mcp", "--no-connect",
      "--options", '{"include_tools": []}'], "orchestrator.include_tools: [] lets no tool"),
    (["add", "x", "--url", "http://127.0.0.1:1/mcp", "--no-connect",
      "--options", '{"timeout_ms": "30000", "retry": {"backoff": true}}'],
     'orchestrator.retry.backoff: Input should be a valid number, not true; '
     'orchestrator.timeout_ms: Input should be a valid integer, not the string "30000"'),
    (["tools", "nope"], "no MCP server named 'nope'"),
    (["approve", "nope", "tool"], "no MCP server named 'nope'"),
])
def test_bad_input_exits_2_naming_it_and_writes_nothing(
    cli: Cli, args: list[str], message: str
) -> None:
    code, out, err = cli(*args)
    assert code == 2 and message in err, (out, err)
    assert not cli.config.exists()


def test_add_refuses_options_naming_tools_the_server_lacks(cli: Cli, tmp_path: Path) -> None:
    options = {"tools": {"create_repo": {"produces": ["repository"]},
                         "create_repository": {"compensation": "delete_repo"}}}
    state = str(tmp_path / "gh.json")
    code, out, err = cli(*add_stdio("gh2", "github_server", "--state", state),
                         "--options", json.dumps(options))
    assert code == 2, (out, err)
    assert "orchestrator.tools.create_repo: MCP server 'gh2' offers no tool 'create_repo'" in err
    assert ("orchestrator.tools.create_repository.compensation: MCP server 'gh2' offers no "
            "tool 'delete_repo' (did you mean 'delete_repository'?)") in err
    assert not cli.config.exists()


def test_add_unreachable_server_exits_1_and_saves_nothing(
    cli: Cli, cloud_http: HttpServerProcess
) -> None:
    assert cli("add", "cloud", "--url", cloud_http.url)[0] == 0
    saved = cli.config.read_bytes()
    code, _, err = cli("add", "down", "--url", f"http://127.0.0.1:{free_port()}/mcp")
    assert code == 1 and "MCP server 'down' was not added: cannot connect" in err
    assert cli.config.read_bytes() == saved
    # Unless asked not to connect: then it is saved as given.
    down = f"http://127.0.0.1:{free_port()}/mcp"
    code, out, err = cli("add", "later", "--url", down, "--no-connect")
    assert code == 0 and "(not connected)" in out, err
    assert cli.saved()["later"] == {"url": down}
    code, out, _ = cli("list")
    assert "later: cannot connect to MCP server 'later'" in out


def test_list_tells_servers_that_do_not_answer_within_its_bound(
    cli: Cli, tmp_path: Path
) -> None:
    """A hung HTTP server (stopped, its port open) and a stdio server that never
    answers initialize are shown as not answering, with why, once the listing's
    bound has passed; not as servers that serve 0 tools."""
    server = HttpServerProcess("cloud_server", tmp_path / "cloud.json")
    server.start()
    try:
        assert cli("add", "hung", "--url", server.url)[0] == 0
        silent = shutil.which("sleep")
        assert silent is not None
        assert cli("add", "silent", "--command", silent, "--arg", "600", "--no-connect")[0] == 0
        assert server._process is not None
        os.kill(server._process.pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            code, out, err = cli("list")
            waited = time.monotonic() - started
        finally:
            os.kill(server._process.pid, signal.SIGCONT)
    finally:
        server.kill()
    # The connect timeout (30 s by default) is not waited for; starting the CLI is.
    assert waited < LIST_S + 10, waited
    assert code == 1, (out, err)
    rows = {line.split()[0]: line.split()[-2:] for line in out.splitlines()[1:]
            if line.split()[0] in ("hung", "silent")}
    assert rows == {"hung": ["-", "unreachable"], "silent": ["-", "unreachable"]}, out
    for name in ("hung", "silent"):
        assert f"{name}: MCP server {name!r} did not answer within {LIST_S:g} s" in out, out
    code, out, _ = cli("tools", "silent")
    assert code == 1 and out.startswith("silent (stdio, unreachable): tools unknown"), out


def test_add_says_what_it_waits_for_when_a_server_does_not_answer(cli: Cli) -> None:
    """A stdio server that never answers initialize keeps `add` waiting its connect
    timeout; the user is told so once, then told it was not added."""
    silent = shutil.which("sleep")
    assert silent is not None
    code, out, err = cli("add", "silent", "--command", silent, "--arg", "600",
                         "--options", json.dumps({"connect_timeout_ms": 4000}))
    assert code == 1, (out, err)
    assert err.count("waiting for MCP server 'silent' to answer (it is given 4 s") == 1, err
    assert "MCP server 'silent' was not added" in err
    assert not cli.config.exists() or "silent" not in cli.saved()


def test_approve_tool_changed_between_runs(cli: Cli) -> None:
    assert cli(*add_stdio("dynamic", "dynamic_server", "--tools", "3"))[0] == 0
    # The server is upgraded: item_002 now says something else than what was pinned.
    data = json.loads(cli.config.read_text())
    data["mcpServers"]["dynamic"]["args"] += ["--describe", "item_002=Now deletes things."]
    cli.config.write_text(json.dumps(data))

    code, out, err = cli("tools", "dynamic")
    assert code == 0, err
    [line] = [line for line in out.splitlines() if " item_002 " in line]
    assert "CHANGED" in line and "Now deletes things." in line
    assert "orchestrator mcp approve dynamic item_002" in out
    assert "changed since approved, calls refused: item_002" in cli("list")[1]

    code, out, err = cli("approve", "dynamic", "item_002")
    assert code == 0 and "approved tool 'item_002' of MCP server 'dynamic'" in out, err
    assert "CHANGED" not in cli("tools", "dynamic")[1]
    code, _, err = cli("approve", "dynamic", "item_002")
    assert code == 2 and "nothing to approve" in err
