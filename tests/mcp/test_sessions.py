"""Pooled sessions: reused across calls, reopened after a crash, closed at shutdown."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest

from orchestrator.mcp import McpHub, McpServerUnavailable, McpUnknownTool, parse_config
from tests.mcp.conftest import HubFactory
from tests.mcp.support import (
    HttpServerProcess,
    eventually,
    kill,
    process_gone,
    python_server,
)

# Never answers, and exits when its stdin closes (as MCP stdio servers should).
SILENT = {"command": sys.executable, "args": ["-c", "import sys; sys.stdin.read()"]}


async def _pid(hub: McpHub, server: str = "github") -> int:
    output = await hub.call_tool(server, "server_status", {})
    pid: int = output["structured_content"]["pid"]
    return pid


async def test_session_is_reused_across_calls(make_hub: HubFactory, tmp_path: Path) -> None:
    hub = make_hub({"github": python_server("github_server", "--state", str(tmp_path / "gh.json"))})
    pids = {await _pid(hub) for _ in range(20)}
    # Concurrent first-time and later calls share the one session too.
    pids |= set(await asyncio.gather(*(_pid(hub) for _ in range(20))))
    assert len(pids) == 1
    assert hub.pool.opened("github") == 1


async def test_concurrent_first_calls_start_one_process(
    make_hub: HubFactory, tmp_path: Path
) -> None:
    hub = make_hub({"github": python_server("github_server", "--state", str(tmp_path / "gh.json"))})
    pids = await asyncio.gather(*(_pid(hub) for _ in range(10)))
    assert len(set(pids)) == 1 and hub.pool.opened("github") == 1


async def test_crashed_stdio_server_is_restarted_by_next_call(
    make_hub: HubFactory, tmp_path: Path
) -> None:
    hub = make_hub({"github": python_server("github_server", "--state", str(tmp_path / "gh.json"))})
    first = await _pid(hub)
    kill(first)
    # The pool notices the dead process by itself, before anyone calls.
    await eventually(lambda: not hub.pool.is_alive("github"))
    second = await _pid(hub)
    assert second != first
    assert hub.pool.opened("github") == 2


async def test_server_dying_during_call_is_retryable_then_restarted(
    make_hub: HubFactory, tmp_path: Path
) -> None:
    hub = make_hub({"cloud": python_server("cloud_server", "--state", str(tmp_path / "c.json"))})
    pid = await _pid(hub, "cloud")
    # 50 nodes take about a second to provision: long enough to die in the middle.
    call = asyncio.create_task(hub.call_tool(
        "cloud", "provision_cluster", {"name": "doomed", "region": "eu-west-1", "nodes": 50}
    ))
    await asyncio.sleep(0.3)
    kill(pid)
    with pytest.raises(McpServerUnavailable) as raised:
        await call
    assert raised.value.retryable
    assert await _pid(hub, "cloud") != pid


async def test_restarted_http_server_gets_a_new_session(
    make_hub: HubFactory, tmp_path: Path
) -> None:
    server = HttpServerProcess("chat_server", tmp_path / "chat.json")
    server.start()
    try:
        # The legacy protocol keeps a server-side session, which the restart forgets.
        hub = make_hub({"chat": server.entry(protocol="legacy")})
        before = await _pid(hub, "chat")
        server.kill()
        server.start()
        # The stale session is refused once (retryable), then replaced.
        with pytest.raises(McpServerUnavailable):
            await _pid(hub, "chat")
        assert await _pid(hub, "chat") != before
        assert hub.pool.opened("chat") == 2
    finally:
        server.kill()


async def test_unreachable_http_server_is_retryable(make_hub: HubFactory, tmp_path: Path) -> None:
    server = HttpServerProcess("chat_server", tmp_path / "chat.json")  # never started
    hub = make_hub({"chat": server.entry()})
    with pytest.raises(McpServerUnavailable, match="cannot connect to MCP server 'chat'") as raised:
        await hub.call_tool("chat", "post_message", {"channel": "ops", "text": "hi"})
    assert raised.value.retryable


async def test_missing_command_is_reported(make_hub: HubFactory) -> None:
    hub = make_hub({"ghost": {"command": "/nonexistent/mcp-server"}})
    failures = await hub.discover()
    assert isinstance(failures["ghost"], McpServerUnavailable)
    assert "cannot connect to MCP server 'ghost'" in str(failures["ghost"])


async def test_a_server_that_exits_is_reported_with_its_last_words(
    make_hub: HubFactory, tmp_path: Path
) -> None:
    failing = {"command": sys.executable, "env": {"GITHUB_TOKEN": "ghp-secret"}, "args": [
        "-c", "import sys; print('starting', file=sys.stderr); "
              "sys.exit('GITHUB_TOKEN ghp-secret is not valid')"]}
    quiet = {"command": sys.executable, "args": ["-c", "raise SystemExit(3)"]}
    hub = make_hub({"gh": failing, "quiet": quiet})
    logs = tmp_path / "mcp" / "logs"
    logs.mkdir(parents=True)
    for name in ("gh", "quiet"):
        (logs / f"{name}.log").write_text("an earlier session's last line\n")
    failures = await hub.discover()
    message = str(failures["gh"])
    assert message.startswith("cannot connect to MCP server 'gh': ")
    assert message.endswith(
        f"its stderr ends: GITHUB_TOKEN *** is not valid (all of it: {logs / 'gh.log'})")
    # Only what this session wrote: an earlier session's words are not this failure's.
    assert "stderr" not in str(failures["quiet"])


async def test_server_that_never_answers_times_out(make_hub: HubFactory) -> None:
    silent = {**SILENT, "orchestrator": {"connect_timeout_ms": 300}}
    hub = make_hub({"silent": silent})
    started = asyncio.get_running_loop().time()
    failures = await hub.discover()
    assert "no answer within 300 ms" in str(failures["silent"])
    assert asyncio.get_running_loop().time() - started < 5


async def test_close_does_not_wait_for_a_connect(make_hub: HubFactory) -> None:
    hub = make_hub({"silent": SILENT})  # the default connect timeout: 30 s
    discovery = asyncio.create_task(hub.discover())
    await asyncio.sleep(0.3)
    started = asyncio.get_running_loop().time()
    await hub.close()
    assert asyncio.get_running_loop().time() - started < 10
    assert "closed while connecting" in str((await discovery)["silent"])


async def test_close_stops_server_processes(tmp_path: Path) -> None:
    config = parse_config({"mcpServers": {
        "github": python_server("github_server", "--state", str(tmp_path / "gh.json")),
    }})
    hub = McpHub(config, data_dir=tmp_path / "mcp")
    pid = await _pid(hub)
    await hub.close()
    assert process_gone(pid)
    with pytest.raises(McpServerUnavailable, match="closed"):
        await _pid(hub)


async def _provisioning(hub: McpHub, name: str) -> asyncio.Task[dict[str, Any]]:
    """A call of about a second (50 nodes), started and under way on the server."""
    call = asyncio.create_task(hub.call_tool(
        "cloud", "provision_cluster", {"name": name, "region": "eu-west-1", "nodes": 50}))
    await asyncio.sleep(0.3)
    assert not call.done()
    return call


@pytest.mark.parametrize("edit", ["changed", "removed"])
async def test_a_call_under_way_ends_on_its_session_when_its_server_is_edited(
    make_hub: HubFactory, tmp_path: Path, edit: str
) -> None:
    """An edited or removed entry must not cut off a call in flight: retried on a new
    session, a tool that is not idempotent would run twice."""
    entry = python_server("cloud_server", "--state", str(tmp_path / "cloud.json"))
    hub = make_hub({"cloud": entry})
    first = await _pid(hub, "cloud")
    call = await _provisioning(hub, "c1")
    hub.remove_server("cloud", forget_pins=False)
    if edit == "changed":
        hub.add_server("cloud", parse_config({"mcpServers": {"cloud": {
            **entry, "env": {"EDITED": "1"}}}}).servers["cloud"])
    output = await call
    assert output["structured_content"]["name"] == "c1"
    # The old session closes once its call has ended.
    await eventually(lambda: process_gone(first))
    if edit == "changed":
        assert await _pid(hub, "cloud") != first
    else:
        with pytest.raises(McpUnknownTool):
            await _pid(hub, "cloud")


async def test_close_does_not_wait_for_a_call_on_a_removed_server(
    make_hub: HubFactory, tmp_path: Path
) -> None:
    hub = make_hub({"cloud": python_server("cloud_server", "--state", str(tmp_path / "c.json"))})
    first = await _pid(hub, "cloud")
    call = await _provisioning(hub, "c2")
    hub.remove_server("cloud", forget_pins=False)
    async with asyncio.timeout(0.5):  # the call would take another ~0.7 s
        await hub.close()
    await eventually(lambda: process_gone(first))
    with pytest.raises(McpServerUnavailable):
        await call
