"""`/v1/mcp/servers` through the app the worker serves, against real MCP servers:
who may add what, bad entries refused naming the field, nothing half-saved."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client

from orchestrator.devserver import DevServer, free_port
from orchestrator.mcp import McpToolChanged, PinStore, views
from tests.integration.stack import Stack, running_stack
from tests.mcp.support import HttpServerProcess, python_server

TOKEN = "admin-s3cret"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def stack(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> AsyncIterator[Stack]:
    async with running_stack(client, temporal_server.address, tmp_path / "data",
                             mcp_admin_token=TOKEN) as s:
        yield s


def _config(s: Stack) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(s.settings.mcp_config_path.read_text())
    return data


def _github(tmp_path: Path) -> dict[str, Any]:
    return {"name": "github", "env": {"GITHUB_TOKEN": "ghp-secret-value"},
            **python_server("github_server", "--state", str(tmp_path / "gh.json"))}


async def test_add_http_server_is_open_and_lists_its_tools(
    stack: Stack, cloud_http: HttpServerProcess
) -> None:
    reply = await stack.http.post("/v1/mcp/servers", json={
        "name": "cloud", "url": cloud_http.url, "headers": {"X-Api-Key": "hdr-secret-value"},
        "orchestrator": {"timeout_ms": 60000, "tools": {"deploy": {"produces": ["deployment"]}}},
    })
    assert reply.status_code == 201, reply.text
    added = reply.json()
    assert added["status"] == "ready" and added["transport"] == "http"
    assert added["header_keys"] == ["X-Api-Key"] and "hdr-secret-value" not in reply.text
    assert "mcp.cloud.deploy" in {t["capability"] for t in added["tools"]}
    saved = _config(stack)["mcpServers"]["cloud"]
    assert saved["headers"] == {"X-Api-Key": "hdr-secret-value"}
    # Only what was given is written; defaults stay implicit.
    assert saved["orchestrator"] == {"timeout_ms": 60000,
                                     "tools": {"deploy": {"produces": ["deployment"]}}}
    # The worker's hub serves it at once.
    assert "mcp.cloud.deploy" in {c.name for c in stack.runtime.hub.capabilities}

    listed = (await stack.http.get("/v1/mcp/servers")).json()
    assert [(s["name"], s["tool_count"] > 0, s["url"]) for s in listed] == [
        ("cloud", True, cloud_http.url)
    ]
    assert "hdr-secret-value" not in json.dumps(listed)


@pytest.mark.parametrize(("headers", "reason"), [
    ({}, "Authorization: Bearer"),
    ({"Authorization": "Bearer wrong"}, "not it"),
    ({"Authorization": f"Basic {TOKEN}"}, "Authorization: Bearer"),
])
async def test_add_stdio_server_without_admin_token_is_forbidden(
    stack: Stack, tmp_path: Path, headers: dict[str, str], reason: str
) -> None:
    reply = await stack.http.post("/v1/mcp/servers", json=_github(tmp_path), headers=headers)
    assert reply.status_code == 403
    assert "stdio server" in reply.json()["detail"] and reason in reply.json()["detail"]
    assert not stack.settings.mcp_config_path.exists()
    assert stack.runtime.hub.config.servers == {}


async def test_add_stdio_server_is_forbidden_when_no_admin_token_is_configured(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    async with running_stack(client, temporal_server.address, tmp_path / "data") as s:
        reply = await s.http.post("/v1/mcp/servers", json=_github(tmp_path), headers=ADMIN)
    assert reply.status_code == 403 and "none is configured" in reply.json()["detail"]


async def test_add_stdio_server_as_admin_shows_tools_but_not_env_values(
    stack: Stack, tmp_path: Path
) -> None:
    reply = await stack.http.post("/v1/mcp/servers", json=_github(tmp_path), headers=ADMIN)
    assert reply.status_code == 201, reply.text
    detail = (await stack.http.get("/v1/mcp/servers/github")).json()
    assert detail["env_keys"] == ["GITHUB_TOKEN"] and "ghp-secret-value" not in json.dumps(detail)
    assert detail["command"] == python_server("github_server")["command"]
    tools = {t["name"]: t for t in detail["tools"]}
    assert detail["tool_count"] == len(tools) == 10
    delete = tools["delete_repository"]
    assert delete["capability"] == "mcp.github.delete_repository"
    assert delete["sensitive"] and not delete["read_only"]
    assert delete["annotations"]["destructiveHint"] is True
    assert delete["pinned"] == delete["fingerprint"] and not delete["changed"]
    assert tools["list_repositories"]["read_only"]
    assert _config(stack)["mcpServers"]["github"]["env"] == {"GITHUB_TOKEN": "ghp-secret-value"}


@pytest.mark.parametrize("command", [
    "python;id", "python|id", "python&", "$HOME/python", "`id`", "python<x", "python>x",
    "python\nid",
])
async def test_add_rejects_shell_metacharacters_in_command(stack: Stack, command: str) -> None:
    reply = await stack.http.post("/v1/mcp/servers", headers=ADMIN,
                                  json={"name": "evil", "command": command})
    assert reply.status_code == 422
    assert reply.json()["detail"] == "command: must be one executable, not a shell command line"
    assert not stack.settings.mcp_config_path.exists()


@pytest.mark.parametrize(("body", "named"), [
    ({"name": "a b", "url": "http://127.0.0.1:1/mcp"}, "name: "),
    ({"name": "x;rm", "url": "http://127.0.0.1:1/mcp"}, "name: "),
    ({"url": "http://127.0.0.1:1/mcp"}, "name: "),
    ({"name": "x", "url": "ftp://files.example.com"}, "url: "),
    ({"name": "x", "url": "http://127.0.0.1:1/mcp", "hedaers": {}}, "hedaers: "),
    ({"name": "x", "url": "http://127.0.0.1:1/mcp", "orchestrator": {"timeout_ms": 0}},
     "orchestrator.timeout_ms: "),
    ({"name": "x"}, "exactly one of 'command'"),
    (["not", "an", "object"], "dict"),
])
async def test_add_rejects_bad_entry_naming_the_field(
    stack: Stack, body: Any, named: str
) -> None:
    reply = await stack.http.post("/v1/mcp/servers", json=body, headers=ADMIN)
    assert reply.status_code == 422
    assert named in reply.text
    assert not stack.settings.mcp_config_path.exists()


async def test_a_malformed_entry_is_told_as_such_without_the_admin_token(
    stack: Stack
) -> None:
    both = {"name": "x", "url": "http://127.0.0.1:1/mcp", "command": "node"}
    reply = await stack.http.post("/v1/mcp/servers", json=both)
    assert reply.status_code == 422 and "exactly one of 'command'" in reply.text, reply.text
    # A well-formed stdio entry still needs the token.
    reply = await stack.http.post("/v1/mcp/servers", json={"name": "x", "command": "node"})
    assert reply.status_code == 403 and "admin token" in reply.text, reply.text
    assert not stack.settings.mcp_config_path.exists()


async def test_add_refuses_options_naming_tools_the_server_lacks(
    stack: Stack, cloud_http: HttpServerProcess
) -> None:
    for options, field in [
        ({"tools": {"deploy": {"compensation": "nope"}}},
         "orchestrator.tools.deploy.compensation: MCP server 'x5' offers no tool 'nope'"),
        ({"tools": {"deploi": {"produces": ["deployment"]}}},
         "orchestrator.tools.deploi: MCP server 'x5' offers no tool 'deploi'"),
        ({"include_tools": ["get_*"], "exclude_tools": ["get_cluster"]},
         "orchestrator.include_tools/exclude_tools: they leave none of the tools of MCP "
         "server 'x5', so it would serve nothing"),
    ]:
        reply = await stack.http.post("/v1/mcp/servers", json={
            "name": "x5", "url": cloud_http.url, "orchestrator": options})
        assert reply.status_code == 422, reply.text
        assert field in reply.json()["detail"]
    assert not stack.settings.mcp_config_path.exists()
    assert "x5" not in stack.runtime.hub.config.servers
    # Nor are its tools pinned: another server may yet be added under the name.
    assert not stack.runtime.hub.pins.has("x5")


async def test_add_refuses_filters_that_leave_no_tool_without_connecting(
    stack: Stack
) -> None:
    # Nothing listens there: a 502 would mean it tried to connect first.
    body = {"name": "none", "url": f"http://127.0.0.1:{free_port()}/mcp",
            "orchestrator": {"exclude_tools": ["*"]}}
    reply = await stack.http.post("/v1/mcp/servers", json=body)
    assert reply.status_code == 422, reply.text
    assert reply.json()["detail"].startswith(
        "orchestrator.exclude_tools: '*' excludes every tool, so the server would serve nothing")
    assert not stack.settings.mcp_config_path.exists()


async def test_add_refuses_numbers_written_as_strings_or_booleans(stack: Stack) -> None:
    body = {"name": "lax", "url": f"http://127.0.0.1:{free_port()}/mcp",
            "orchestrator": {"connect_timeout_ms": "5000", "retry": {"max_attempts": True}}}
    reply = await stack.http.post("/v1/mcp/servers", json=body)
    assert reply.status_code == 422, reply.text
    assert reply.json()["detail"] == (
        'orchestrator.retry.max_attempts: Input should be a valid integer, not true; '
        'orchestrator.connect_timeout_ms: Input should be a valid integer, not the string "5000"')
    assert not stack.settings.mcp_config_path.exists()


async def test_add_that_switches_approvals_off_needs_admin_token(
    stack: Stack, cloud_http: HttpServerProcess
) -> None:
    body = {"name": "cloud", "url": cloud_http.url,
            "orchestrator": {"tools": {"deploy": {"sensitive": False}}}}
    reply = await stack.http.post("/v1/mcp/servers", json=body)
    assert reply.status_code == 403
    assert "orchestrator.tools.deploy.sensitive" in reply.json()["detail"]
    assert (await stack.http.post("/v1/mcp/servers", json=body, headers=ADMIN)).status_code == 201


async def test_add_existing_name_is_a_conflict(
    stack: Stack, cloud_http: HttpServerProcess
) -> None:
    first = await stack.http.post("/v1/mcp/servers", json={"name": "cloud", "url": cloud_http.url})
    assert first.status_code == 201
    saved = stack.settings.mcp_config_path.read_bytes()
    again = await stack.http.post("/v1/mcp/servers", json={"name": "cloud", "url": cloud_http.url})
    assert again.status_code == 409 and "exists already" in again.json()["detail"]
    # Another name published under the same capability prefix collides too.
    alike = await stack.http.post("/v1/mcp/servers", json={"name": "Cloud", "url": cloud_http.url})
    assert alike.status_code == 409 and "'mcp.cloud.*'" in alike.json()["detail"]
    assert stack.settings.mcp_config_path.read_bytes() == saved


async def test_add_unreachable_server_is_bad_gateway_and_saves_nothing(
    stack: Stack, cloud_http: HttpServerProcess
) -> None:
    await stack.http.post("/v1/mcp/servers", json={"name": "cloud", "url": cloud_http.url})
    saved = stack.settings.mcp_config_path.read_bytes()
    down = f"http://127.0.0.1:{free_port()}/mcp"
    reply = await stack.http.post("/v1/mcp/servers", json={"name": "down", "url": down})
    assert reply.status_code == 502
    assert "MCP server 'down' was not added: cannot connect" in reply.json()["detail"]
    # A command there is no program for is the entry's fault, and said so.
    for command, says in (("/nonexistent/mcp-server",
                           "command: '/nonexistent/mcp-server' is not an executable file"),
                          ("no-such-mcp-server",
                           "command: no program 'no-such-mcp-server' on the PATH")):
        missing = await stack.http.post("/v1/mcp/servers", headers=ADMIN,
                                        json={"name": "gone", "command": command})
        assert missing.status_code == 422 and says in missing.json()["detail"], missing.text
    assert stack.settings.mcp_config_path.read_bytes() == saved
    assert [s["name"] for s in (await stack.http.get("/v1/mcp/servers")).json()] == ["cloud"]
    assert sorted(stack.runtime.hub.pool.servers) == ["cloud"]


async def test_list_reports_server_that_cannot_be_reached(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    # Written before the start: the worker reads <data dir>/mcp.json by default.
    config = tmp_path / "data" / "mcp.json"
    config.parent.mkdir()
    config.write_text(json.dumps({"mcpServers": {
        "down": {"url": f"http://127.0.0.1:{free_port()}/mcp"},
        "off": {"command": "node", "disabled": True},
    }}))
    async with running_stack(client, temporal_server.address, tmp_path / "data") as s:
        listed = {v["name"]: v for v in (await s.http.get("/v1/mcp/servers")).json()}
    assert listed["down"]["status"] == "unreachable"
    assert "cannot connect to MCP server 'down'" in listed["down"]["last_error"]
    assert listed["off"]["status"] == "disabled"
    # Never listed: how many tools they serve is not known (not 0).
    assert listed["down"]["tool_count"] is None and listed["off"]["tool_count"] is None


async def test_an_http_server_that_went_down_is_shown_unreachable(
    stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(views, "LIST_S", 1.0)
    server = HttpServerProcess("cloud_server", tmp_path / "cloud.json")
    server.start()
    try:
        reply = await stack.http.post("/v1/mcp/servers", json={"name": "c", "url": server.url})
        assert reply.status_code == 201, reply.text
        assert (await stack.http.get("/v1/mcp/servers/c")).json()["status"] == "ready"
        # Hung (stopped, its port open): told within the probe's bound, and ready
        # again once it answers.
        assert server._process is not None
        os.kill(server._process.pid, signal.SIGSTOP)
        try:
            hung = (await stack.http.get("/v1/mcp/servers/c")).json()
            # Listing it again, asked for, is bounded too (it waited as long as it hung).
            relisted = (await stack.http.get("/v1/mcp/servers", params={"refresh": "true"})
                        ).json()
        finally:
            os.kill(server._process.pid, signal.SIGCONT)
        assert (hung["status"], hung["last_error"]) == (
            "unreachable", "MCP server 'c' did not answer within 2 s"), hung
        assert [(v["status"], v["last_error"]) for v in relisted] == [
            ("unreachable", "MCP server 'c' did not answer within 1 s")], relisted
        assert (await stack.http.get("/v1/mcp/servers/c")).json()["status"] == "ready"
        server.kill()
        # Nothing has called it since; it is shown as it is all the same.
        shown = (await stack.http.get("/v1/mcp/servers")).json()
        assert [(v["name"], v["status"]) for v in shown] == [("c", "unreachable")]
        assert "cannot connect to MCP server 'c'" in shown[0]["last_error"], shown
    finally:
        server.kill()


async def test_remove_server_needs_admin_and_forgets_it(stack: Stack, tmp_path: Path) -> None:
    await stack.http.post("/v1/mcp/servers", json=_github(tmp_path), headers=ADMIN)
    refused = await stack.http.delete("/v1/mcp/servers/github")
    assert refused.status_code == 403 and "removing" in refused.json()["detail"]
    unknown = await stack.http.delete("/v1/mcp/servers/nope", headers=ADMIN)
    assert unknown.status_code == 404 and "'nope'" in unknown.json()["detail"]

    assert (await stack.http.delete("/v1/mcp/servers/github", headers=ADMIN)).status_code == 204
    assert (await stack.http.get("/v1/mcp/servers/github")).status_code == 404
    assert _config(stack)["mcpServers"] == {}
    assert stack.runtime.hub.capabilities == []
    pins = json.loads((stack.settings.mcp_dir / "pins.json").read_text())
    assert "github" not in pins["servers"]


async def test_approve_changed_tool_lets_calls_through_again(stack: Stack) -> None:
    body = {"name": "dynamic", **python_server("dynamic_server", "--tools", "3")}
    assert (await stack.http.post("/v1/mcp/servers", json=body, headers=ADMIN)).status_code == 201
    hub = stack.runtime.hub
    await hub.call_tool("dynamic", "redescribe", {"tool": "item_001", "description": "Evil."})
    with pytest.raises(McpToolChanged):
        await hub.call_tool("dynamic", "item_001", {})

    detail = (await stack.http.get("/v1/mcp/servers/dynamic")).json()
    assert detail["changed_tools"] == ["item_001"]
    [tool] = [t for t in detail["tools"] if t["name"] == "item_001"]
    assert tool["changed"] and tool["pinned"] != tool["fingerprint"]
    assert tool["description"] == "Evil."

    url = "/v1/mcp/servers/dynamic/tools/item_001/approve"
    assert (await stack.http.post(url)).status_code == 403
    unchanged = await stack.http.post("/v1/mcp/servers/dynamic/tools/item_000/approve",
                                      headers=ADMIN)
    assert unchanged.status_code == 409 and "nothing to approve" in unchanged.json()["detail"]
    stale = await stack.http.post(url, headers=ADMIN, json={"fingerprint": tool["pinned"]})
    assert stale.status_code == 409 and "look at it again" in stale.json()["detail"]
    missing = await stack.http.post("/v1/mcp/servers/dynamic/tools/nope/approve", headers=ADMIN)
    assert missing.status_code == 404

    approved = await stack.http.post(url, headers=ADMIN, json={"fingerprint": tool["fingerprint"]})
    assert approved.status_code == 200, approved.text
    assert not approved.json()["changed"] and approved.json()["pinned"] == tool["fingerprint"]
    assert (await hub.call_tool("dynamic", "item_001", {"note": "ok"}))["text"] == "item_001: ok"
    assert (await stack.http.get("/v1/mcp/servers")).json()[0]["changed_tools"] == []


async def test_approval_saved_by_another_process_is_honoured(stack: Stack) -> None:
    body = {"name": "dynamic", **python_server("dynamic_server", "--tools", "2")}
    assert (await stack.http.post("/v1/mcp/servers", json=body, headers=ADMIN)).status_code == 201
    hub = stack.runtime.hub
    await hub.call_tool("dynamic", "redescribe", {"tool": "item_000", "description": "New."})
    with pytest.raises(McpToolChanged):
        await hub.call_tool("dynamic", "item_000", {})
    [tool] = [t for t in (await stack.http.get("/v1/mcp/servers/dynamic")).json()["tools"]
              if t["name"] == "item_000"]
    # What `orchestrator mcp approve` does from its own process: pin the new definition.
    PinStore(stack.settings.mcp_dir / "pins.json").approve("dynamic", "item_000",
                                                           tool["fingerprint"])
    # Shown as approved at once, not after the next call finds it so.
    assert (await stack.http.get("/v1/mcp/servers/dynamic")).json()["changed_tools"] == []
    assert (await hub.call_tool("dynamic", "item_000", {}))["text"] == "item_000: "
    assert hub.changed_tools() == []


async def test_a_server_added_over_http_is_planned_at_once_and_leaves_when_removed(
    stack: Stack, cloud_http: HttpServerProcess
) -> None:
    reply = await stack.http.post("/v1/mcp/servers", json={"name": "cloud", "url": cloud_http.url})
    assert reply.status_code == 201, reply.text
    registry = stack.runtime.registry
    assert [a.id for a in registry.providers("mcp.cloud.get_cluster")] == ["mcp-cloud"]
    dry = await stack.http.post("/v3/ai/chat", json={
        "message": "cloud get cluster name=prod", "dry_run": True, "wait": True})
    assert dry.status_code == 200, dry.text
    assert [s["capability"] for s in dry.json()["plan"]["steps"]] == ["mcp.cloud.get_cluster"]
    sync = stack.runtime.mcp_sync
    assert sync is not None
    await sync.flush()
    graph = await stack.http.get("/v1/mcp/servers/cloud/graph")
    assert graph.status_code == 200, graph.text
    assert "mcp.cloud.get_cluster" in {t["capability"] for t in graph.json()["tools"]}

    assert (await stack.http.delete("/v1/mcp/servers/cloud", headers=ADMIN)).status_code == 204
    assert registry.providers("mcp.cloud.get_cluster") == []
    await sync.flush()
    assert (await stack.http.get("/v1/mcp/servers/cloud/graph")).status_code == 404


async def test_servers_added_over_http_share_a_capability_at_once(
    stack: Stack, cloud_http: HttpServerProcess
) -> None:
    """S8 right after the servers are added: the second stands in for the first
    from the first request on, not once the graph has caught up."""
    options = {"tools": {"deploy": {"provides": "edge.ship"}}}
    for name in ("e3", "w3"):
        reply = await stack.http.post("/v1/mcp/servers", json={
            "name": name, "url": cloud_http.url, "orchestrator": options})
        assert reply.status_code == 201, reply.text
    # And stays so while the config file's watcher takes in the file the API wrote.
    for _ in range(15):
        dry = await stack.http.post("/v3/ai/chat", json={
            "message": "edge ship cluster=prod app=shop", "dry_run": True})
        assert dry.status_code == 200, dry.text
        [step] = dry.json()["plan"]["steps"]
        assert (step["capability"], step["agent"], step["fallbacks"]) == (
            "edge.ship", "mcp-e3", ["mcp-w3"])
        await asyncio.sleep(0.2)
