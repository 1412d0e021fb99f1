"""Tool calls: arguments checked first, results and failures in the orchestrator's terms."""

from __future__ import annotations

import contextvars
import json
from pathlib import Path
from typing import Any

import pytest
from temporalio import activity
from temporalio.testing import ActivityEnvironment

from activities.errors import to_application_error
from orchestrator.agents.base import StepContext
from orchestrator.mcp import (
    BlobRef,
    McpInvalidArguments,
    McpTimeout,
    McpToolFailed,
    McpUnknownTool,
    ToolProgress,
)
from tests.mcp.conftest import HubFactory
from tests.mcp.support import HttpServerProcess, python_server

STEP = StepContext(workflow_id="wf-1", step_id="repo", attempt=1)


def _github(tmp_path: Path, **options: Any) -> dict[str, Any]:
    return python_server("github_server", "--state", str(tmp_path / "gh.json"), **options)


async def test_call_returns_structured_content_and_text(
    make_hub: HubFactory, tmp_path: Path
) -> None:
    hub = make_hub({"github": _github(tmp_path)})
    output = await hub.call_tool("github", "create_repository", {"name": "shop"})
    assert output["structured_content"] == {
        "name": "shop", "url": "https://github.test/shop", "private": False, "description": "",
        "default_branch": "main", "branches": ["main"],
    }
    assert json.loads(output["text"]) == output["structured_content"]
    assert "shop" in json.loads((tmp_path / "gh.json").read_text())["repositories"]


INVALID = [
    ({}, "name", "'name' is a required property"),
    ({"name": "Bad Name!"}, "name", "does not match"),
    ({"name": "shop", "private": "yes"}, "private", "is not of type 'boolean'"),
]


async def test_invalid_arguments_are_refused_naming_the_field(
    make_hub: HubFactory, tmp_path: Path
) -> None:
    hub = make_hub({"github": _github(tmp_path)})
    for arguments, field, reason in INVALID:
        with pytest.raises(McpInvalidArguments) as raised:
            await hub.call_tool("github", "create_repository", arguments)
        assert raised.value.field == field and reason in raised.value.reason
        assert str(raised.value).startswith(
            f"invalid arguments for mcp.github.create_repository: field '{field}'"
        )
        failure = to_application_error(raised.value)
        assert failure.non_retryable and failure.type == "McpInvalidArguments"
    # Refused before the call: the server never saw them.
    assert json.loads((tmp_path / "gh.json").read_text())["repositories"] == {}


async def test_unexpected_argument_is_named(make_hub: HubFactory) -> None:
    hub = make_hub({"dynamic": python_server("dynamic_server", "--tools", "1")})
    with pytest.raises(McpInvalidArguments, match="field 'colour'"):
        await hub.call_tool("dynamic", "item_000", {"note": "x", "colour": "red"})


async def test_tool_error_result_is_a_distinct_failure(
    make_hub: HubFactory, cloud_http: HttpServerProcess
) -> None:
    hub = make_hub({"cloud": cloud_http.entry()})
    with pytest.raises(McpToolFailed) as raised:
        await hub.call_tool("cloud", "deploy", {"cluster": "c1", "app": "shop", "fail": "quota"})
    assert raised.value.text.endswith("quota") and raised.value.retryable
    failure = to_application_error(raised.value)
    assert failure.type == "McpToolFailed" and not failure.non_retryable


async def test_tool_errors_can_be_final(
    make_hub: HubFactory, cloud_http: HttpServerProcess
) -> None:
    hub = make_hub({"cloud": cloud_http.entry(retry_tool_errors=False)})
    with pytest.raises(McpToolFailed) as raised:
        await hub.call_tool("cloud", "get_cluster", {"name": "nowhere"})
    assert "cluster 'nowhere' does not exist" in raised.value.text
    assert to_application_error(raised.value).non_retryable


async def test_an_exception_the_server_masks_points_to_the_servers_log(
    make_hub: HubFactory, tmp_path: Path
) -> None:
    """The SDK's servers answer a tool's unexpected exception with "Error executing
    tool x" alone; why is in the server's stderr, kept in its log."""
    state = tmp_path / "cloud.json"
    hub = make_hub({"cloud": python_server("cloud_server", "--state", str(state))})
    await hub.call_tool("cloud", "server_status", {})
    state.write_text("{not json")  # its next read of the state raises
    with pytest.raises(McpToolFailed) as raised:
        await hub.call_tool("cloud", "get_cluster", {"name": "c1"})
    log = hub.pool.log_of("cloud")
    assert log is not None
    assert raised.value.text == (
        f"Error executing tool get_cluster (the server's log may say why: {log})")
    assert "JSONDecodeError" in log.read_text()


async def test_progress_reaches_the_caller_in_its_context(
    make_hub: HubFactory, cloud_http: HttpServerProcess
) -> None:
    hub = make_hub({"cloud": cloud_http.entry()})
    step: contextvars.ContextVar[str] = contextvars.ContextVar("step")
    step.set("provision")
    seen: list[tuple[str, ToolProgress]] = []
    output = await hub.call_tool(
        "cloud", "provision_cluster", {"name": "progress-1", "region": "eu-west-1", "nodes": 4},
        progress=lambda p: seen.append((step.get(), p)),
    )
    assert output["structured_content"]["nodes"] == 4
    # An activity heartbeat finds its activity through the caller's context, as `step` here.
    assert [(s, p.progress, p.total) for s, p in seen] == [
        ("provision", float(n), 4.0) for n in range(1, 5)
    ]
    assert seen[-1][1].message == "node 4 of 4 ready"


async def test_slow_call_times_out_as_retryable(
    make_hub: HubFactory, cloud_http: HttpServerProcess
) -> None:
    hub = make_hub({"cloud": cloud_http.entry(timeout_ms=200)})
    with pytest.raises(McpTimeout) as raised:
        await hub.call_tool(
            "cloud", "provision_cluster", {"name": "slow-1", "region": "eu-west-1", "nodes": 50},
        )
    assert raised.value.retryable


async def test_large_result_is_stored_out_of_line(make_hub: HubFactory, tmp_path: Path) -> None:
    hub = make_hub({"github": _github(tmp_path)})
    await hub.call_tool("github", "create_repository", {"name": "big"})
    small = await hub.call_tool("github", "list_commits", {"repository": "big", "count": 10})
    assert len(small["structured_content"]["result"]) == 10

    output = await hub.call_tool("github", "list_commits", {"repository": "big", "count": 2000})
    assert set(output) == {"blob", "preview"}
    ref = BlobRef.model_validate(output["blob"])
    assert ref.size > 64 * 1024 and output["preview"].startswith('{\n  "sha"')
    stored = json.loads(await hub.blobs.get(ref))
    assert len(stored["structured_content"]["result"]) == 2000
    # Content-addressed: the same result is stored once.
    again = await hub.call_tool("github", "list_commits", {"repository": "big", "count": 2000})
    assert again["blob"] == output["blob"]
    assert len(list((tmp_path / "mcp" / "blobs").rglob("*"))) == 2  # one folder, one file


async def test_unknown_tool_and_server_are_refused(make_hub: HubFactory, tmp_path: Path) -> None:
    hub = make_hub({"github": _github(tmp_path, exclude_tools=["delete_*"])})
    with pytest.raises(McpUnknownTool, match="no tool 'fork_repository'"):
        await hub.call_tool("github", "fork_repository", {})
    with pytest.raises(McpUnknownTool, match="excludes it"):
        await hub.call_tool("github", "delete_repository", {"name": "shop"})
    with pytest.raises(McpUnknownTool, match="no MCP server named 'gitlab'"):
        await hub.call_tool("gitlab", "create_repository", {"name": "shop"})


async def test_run_executes_a_capability_as_an_agent(make_hub: HubFactory, tmp_path: Path) -> None:
    hub = make_hub({"github": _github(tmp_path)})
    # A fresh worker: nothing discovered yet, the server is listed on demand.
    result = await hub.run("mcp.github.create_repository", {"name": "agent-made"}, STEP)
    assert result.output["structured_content"]["name"] == "agent-made"
    with pytest.raises(McpUnknownTool):
        await hub.run("mcp.github.fork_repository", {}, STEP)


async def test_progress_heartbeats_the_step_activity(
    make_hub: HubFactory, cloud_http: HttpServerProcess
) -> None:
    # As the worker will build it: progress heartbeats whichever activity made the call.
    hub = make_hub({"cloud": cloud_http.entry()},
                   progress=lambda p: activity.heartbeat(p.progress, p.total))
    beats: list[tuple[Any, ...]] = []
    env = ActivityEnvironment()
    env.on_heartbeat = lambda *details: beats.append(details)

    @activity.defn
    async def step() -> dict[str, Any]:
        params = {"name": "beat-1", "region": "eu-west-1", "nodes": 3}
        return (await hub.run("mcp.cloud.provision_cluster", params, STEP)).output

    output = await env.run(step)
    assert output["structured_content"]["name"] == "beat-1"
    assert beats == [(1.0, 3.0), (2.0, 3.0), (3.0, 3.0)]
