"""The registry and the graph follow the servers: a server down at start-up joins
when it answers, a `list_changed` brings new tools, a removed server's tools go;
steps on a server's agent reach its tools, with progress as heartbeats."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.steps import StepActivities
from orchestrator.agents.catalogue import PLATFORM_AGENTS, PLATFORM_CAPABILITIES
from orchestrator.agents.platform import PlatformAgents
from orchestrator.agents.registry import AgentRegistry
from orchestrator.agents.router import AgentRouter
from orchestrator.graph.embedded import EmbeddedGraphStore
from orchestrator.graph.mirror import WriteBehindMirror
from orchestrator.mcp.sync import CatalogueSync
from orchestrator.models import Step, StepInput
from tests.mcp.conftest import HubFactory
from tests.mcp.support import ROOT, HttpServerProcess, eventually, node_server, python_server


def _registry() -> AgentRegistry:
    return AgentRegistry(PLATFORM_CAPABILITIES, PLATFORM_AGENTS)


def _names(registry: AgentRegistry, prefix: str) -> set[str]:
    return {c.name for c in registry.capabilities if c.name.startswith(prefix)}


async def test_a_server_down_at_start_up_joins_when_it_answers(
    make_hub: HubFactory, store: EmbeddedGraphStore, tmp_path: Path
) -> None:
    late = HttpServerProcess("cloud_server", tmp_path / "cloud.json")
    hub = make_hub({
        "github": python_server("github_server", "--state", str(tmp_path / "github.json")),
        "aws": late.entry(),
    })
    registry = _registry()
    sync = CatalogueSync(hub, registry, store)
    try:
        await sync.start()
        assert "mcp.github.create_repository" in _names(registry, "mcp.github.")
        assert _names(registry, "mcp.aws.") == set()
        assert "application.create" in _names(registry, "application.")
        assert [s.name for s in await store.mcp_servers()] == ["github"]

        late.start()
        await eventually(lambda: "mcp.aws.deploy" in _names(registry, "mcp.aws."))
        await sync.flush()
        assert [s.name for s in await store.mcp_servers()] == ["aws", "github"]
        assert [a.id for a in registry.providers("mcp.aws.deploy")] == ["mcp-aws"]
    finally:
        await sync.close()
        late.kill()


async def test_a_server_that_went_away_is_listed_again_when_it_answers(
    make_hub: HubFactory, store: EmbeddedGraphStore, tmp_path: Path
) -> None:
    server = HttpServerProcess("cloud_server", tmp_path / "cloud.json")
    server.start()
    hub = make_hub({"aws": server.entry()})
    sync = CatalogueSync(hub, _registry(), store)
    try:
        await sync.start()
        server.kill()
        assert "aws" in await hub.discover(["aws"])  # a refresh while it is down
        assert hub.last_error("aws") is not None
        server.start()
        # Nobody calls it or asks for a refresh: its status must not stay stale.
        await eventually(lambda: hub.last_error("aws") is None)
    finally:
        await sync.close()
        server.kill()


async def test_new_tools_arrive_and_a_removed_server_leaves(
    make_hub: HubFactory, store: EmbeddedGraphStore
) -> None:
    hub = make_hub({"dynamic": {
        "command": sys.executable, "cwd": str(ROOT),
        "args": ["-m", "tests.mcp_servers.dynamic_server", "--tools", "2"],
    }})
    registry = _registry()
    sync = CatalogueSync(hub, registry, store)
    try:
        await sync.start()
        items = {"mcp.dynamic.item_000", "mcp.dynamic.item_001"}
        assert _names(registry, "mcp.dynamic.item") == items
        await hub.call_tool("dynamic", "add_tools", {"count": 1})
        await eventually(lambda: "mcp.dynamic.item_002" in _names(registry, "mcp.dynamic."))
        await sync.flush()
        [server] = await store.mcp_servers()
        assert "item_002" in {t.name for t in server.tools}

        hub.remove_server("dynamic")
        assert _names(registry, "mcp.") == set()
        assert {a.id for a in registry.agents} == {a.id for a in PLATFORM_AGENTS}
        await sync.flush()
        assert await store.mcp_servers() == []
    finally:
        await sync.close()


async def test_steps_are_routed_by_agent_and_progress_heartbeats(
    make_hub: HubFactory, store: EmbeddedGraphStore, npm_servers: None
) -> None:
    from activities.progress import heartbeat_progress

    hub = make_hub({"everything": node_server("server-everything")}, progress=heartbeat_progress)
    registry = _registry()
    sync = CatalogueSync(hub, registry, store)
    mirror = WriteBehindMirror(store)
    steps = StepActivities(AgentRouter(PlatformAgents(store, {}), hub, hub.serves), mirror)
    env = ActivityEnvironment()
    beats: list[Any] = []
    env.on_heartbeat = lambda *details: beats.append(details)
    try:
        await sync.start()
        long = StepInput(workflow_id="wf", step=Step(
            id="long", capability="mcp.everything.trigger-long-running-operation",
            agent="mcp-everything", parameters={"duration": 0.3, "steps": 3}))
        done = await env.run(steps.run_agent_step, long)
        assert "completed" in done.output["text"]
        assert [b[0]["progress"] for b in beats if b] == [1, 2, 3]

        app = StepInput(workflow_id="wf", step=Step(
            id="app", capability="application.create", agent="application-agent",
            parameters={"name": "shop"}))
        made = await env.run(steps.run_agent_step, app)
        assert made.output["application"] == "shop"
    finally:
        await mirror.close()
        await sync.close()


async def test_step_on_a_removed_server_fails_naming_it(
    make_hub: HubFactory, store: EmbeddedGraphStore, tmp_path: Path
) -> None:
    hub = make_hub({"github": python_server("github_server", "--state", str(tmp_path / "gh.json"))})
    await hub.discover()
    mirror = WriteBehindMirror(store)
    steps = StepActivities(AgentRouter(PlatformAgents(store, {}), hub, hub.serves), mirror)
    # Planned while the server was there; removed before the step runs.
    hub.remove_server("github")
    try:
        for capability, agent in [("mcp.github.create_repository", "mcp-github"),
                                  ("mcp.github.create_repository", ""),
                                  ("repository.create", "mcp-github")]:
            step = StepInput(workflow_id="wf", step=Step(
                id="repo", capability=capability, agent=agent, parameters={"name": "shop"}))
            with pytest.raises(ApplicationError) as raised:
                await ActivityEnvironment().run(steps.run_agent_step, step)
            assert raised.value.message == "MCP server 'github' is not configured (removed?)"
            assert raised.value.non_retryable
    finally:
        await mirror.close()
