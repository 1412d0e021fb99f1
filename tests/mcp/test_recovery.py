"""Recovery across MCP servers, inside runs on the real dev server: a server killed
during a call is restarted and the step retried; two servers providing one
capability stand in for each other, and selection learns which is reliable (S8)."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client

from orchestrator.agents.selection import EXPLORE_EVERY, MIN_TRIES
from orchestrator.devserver import DevServer
from orchestrator.models import RunResult, RunStatus, StepStatus
from tests.integration.stack import Stack, mcp_stack, start, wait_until
from tests.mcp.support import kill, process_gone, python_server


@pytest.fixture
async def stack(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> AsyncIterator[Stack]:
    # Two clouds offer deployments as one capability; east has no cluster, so
    # every deployment there fails for good, while west has one.
    (tmp_path / "west.json").write_text(json.dumps(
        {"clusters": {"prod": {"region": "eu-west-1", "nodes": 1, "deployments": {}}}}))
    shared = {"deploy": {"provides": "cloud.deploy", "compensation": "undeploy"},
              "undeploy": {"provides": "cloud.undeploy"}}
    options: dict[str, Any] = {"tools": shared, "retry_tool_errors": False,
                               "retry": {"initial_interval_ms": 50}}
    servers = {
        name: python_server("cloud_server", "--state", str(tmp_path / f"{name}.json"), **options)
        for name in ("east", "west")
    }
    async with mcp_stack(client, temporal_server.address, tmp_path, servers) as s:
        yield s


async def test_server_killed_during_a_call_is_restarted_and_the_step_retried(
    stack: Stack, tmp_path: Path
) -> None:
    hub = stack.runtime.hub
    before = await hub.call_tool("west", "server_status", {})
    pid = before["structured_content"]["pid"]
    # Fifty nodes come up one by one: the call lasts about a second.
    workflow_id = await start(
        stack.http, "west provision cluster name=big region=eu-west-1 nodes=50")
    await wait_until(stack.http, workflow_id, lambda r: any(
        s.status == StepStatus.RUNNING for s in r.steps.values()))
    await asyncio.sleep(0.3)
    kill(pid)
    state = await wait_until(stack.http, workflow_id, lambda r: r.finished_at is not None)
    assert state.status == RunStatus.COMPLETED, state.problem
    step = state.steps["west-provision_cluster"]
    assert step.attempts == 2 and step.tries[0].agent == "mcp-west"
    assert process_gone(pid)
    after = await hub.call_tool("west", "server_status", {})
    assert after["structured_content"]["pid"] != pid
    assert "big" in json.loads((tmp_path / "west.json").read_text())["clusters"]


async def test_two_servers_provide_one_capability_and_selection_learns(
    stack: Stack, tmp_path: Path
) -> None:
    registry = stack.runtime.registry
    assert [a.id for a in registry.providers("cloud.deploy")] == ["mcp-east", "mcp-west"]
    # In the graph, each server's own tool implements the one capability.
    assert stack.runtime.mcp_sync is not None
    await stack.runtime.mcp_sync.flush()
    implementing = {(s.name, t.name) for s in await stack.runtime.store.mcp_servers()
                    for t in s.tools if t.capability == "cloud.deploy"}
    assert implementing == {("east", "deploy"), ("west", "deploy")}
    chosen: list[str] = []
    for i in range(MIN_TRIES + EXPLORE_EVERY):
        reply = await stack.http.post("/v3/ai/chat", json={
            "message": f"cloud deploy cluster=prod app=shop{i}", "wait": True})
        assert reply.status_code == 200, reply.text
        result = RunResult.model_validate(reply.json()["result"])
        assert result.status == RunStatus.COMPLETED, result.problem
        assert result.plan is not None
        [step] = result.plan.steps
        assert step.capability == "cloud.deploy"
        chosen.append(step.agent)
        ran = result.steps[step.id]
        assert ran.agent == "mcp-west"
        if step.agent == "mcp-east":  # moved over before any rollback
            assert [(t.agent, t.ok) for t in ran.tries] == [("mcp-east", False),
                                                             ("mcp-west", True)]
            assert ran.tries[0].error is not None and "does not exist" in ran.tries[0].error
            assert result.compensations == {}
        if i == 0:
            await stack.runtime.mirror.flush()
            first = await stack.runtime.store.run_graph(result.workflow_id)
            assert sorted(a for _, a in first.executed_by) == ["mcp-east", "mcp-west"]
    assert chosen[:MIN_TRIES] == ["mcp-east"] * MIN_TRIES
    assert Counter(chosen[MIN_TRIES:])["mcp-west"] >= EXPLORE_EVERY - 1
    deployed = json.loads((tmp_path / "west.json").read_text())["clusters"]["prod"]
    assert len(deployed["deployments"]) == len(chosen)
    stats = await stack.runtime.store.agent_stats()
    assert stats["mcp-east/cloud.deploy"].successes == 0
    assert stats["mcp-west/cloud.deploy"].successes == len(chosen)
