"""Discovery: every page of tools, filtered, as capabilities and one agent per server,
kept current when a server announces a new tool list."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import mcp.types as types
import pytest

from orchestrator.mcp import ServerOptions
from orchestrator.mcp.discovery import misnamed_tools, to_capabilities
from orchestrator.mcp.names import segment, tool_segments
from orchestrator.models import CAPABILITY_PATTERN, AgentKind, RetrySpec, ToolSource
from tests.mcp.conftest import HubFactory
from tests.mcp.support import eventually, python_server


def _github(tmp_path: Path, **options: Any) -> dict[str, Any]:
    return python_server("github_server", "--state", str(tmp_path / "gh.json"), **options)


async def test_discover_follows_every_page(make_hub: HubFactory) -> None:
    dynamic = python_server("dynamic_server", "--tools", "60", "--page-size", "7")
    hub = make_hub({"dynamic": dynamic})
    assert await hub.discover() == {}
    names = [c.name for c in hub.capabilities]
    # 60 items and 2 control tools, listed 7 at a time.
    assert len(names) == 62
    assert names[:3] == ["mcp.dynamic.add_tools", "mcp.dynamic.item_000", "mcp.dynamic.item_001"]
    assert "mcp.dynamic.item_059" in names


async def test_discover_turns_tools_into_capabilities(make_hub: HubFactory, tmp_path: Path) -> None:
    options = {
        "retry": {"max_attempts": 7}, "timeout_ms": 12_000,
        "tools": {"create_repository": {
            "produces": ["repository"], "compensation": "delete_repository",
        }, "create_branch": {"consumes": ["repository"], "produces": ["branch"]}},
    }
    hub = make_hub({"GitHub": _github(tmp_path, **options)})
    await hub.discover()
    caps = {c.name: c for c in hub.capabilities}

    create = caps["mcp.github.create_repository"]
    assert create.source == ToolSource(server="GitHub", tool="create_repository")
    assert create.produces == ["repository"]
    assert create.compensation == "mcp.github.delete_repository"
    assert create.input_schema["properties"]["name"]["pattern"] == r"^[a-z][a-z0-9-]{0,38}$"
    assert create.input_schema["required"] == ["name"]
    assert "main" in create.description
    # Annotations: creating is not destructive, deleting is, reading is read-only.
    assert (create.sensitive, create.read_only, create.idempotent) == (False, False, False)
    delete = caps["mcp.github.delete_repository"]
    assert (delete.sensitive, delete.read_only, delete.idempotent) == (True, False, True)
    get = caps["mcp.github.get_repository"]
    assert (get.sensitive, get.read_only) == (False, True)
    assert caps["mcp.github.create_branch"].consumes == ["repository"]

    [agent] = hub.agents
    assert agent.id == "mcp-github" and agent.kind == AgentKind.MCP
    assert agent.capabilities == sorted(caps)
    assert agent.retry == RetrySpec(max_attempts=7) and agent.start_to_close_ms == 12_000


async def test_discover_applies_include_and_exclude(make_hub: HubFactory, tmp_path: Path) -> None:
    hub = make_hub({"github": _github(
        tmp_path, include_tools=["*_repository", "list_*"], exclude_tools=["delete_*"],
    )})
    await hub.discover()
    assert [c.name.split(".")[-1] for c in hub.capabilities] == [
        "create_repository", "get_repository", "list_commits", "list_repositories",
    ]


async def test_filters_that_leave_no_tool_are_told(
    make_hub: HubFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The file may say so (by hand); the server then serves nothing, and says why."""
    hub = make_hub({"github": _github(tmp_path, include_tools=["gitlab_*"])})
    await hub.discover()
    assert hub.capabilities == []
    assert "MCP server github: include_tools/exclude_tools leave none of its 10 tools: " \
           "it serves nothing" in caplog.text


@pytest.mark.parametrize("protocol", ["auto", "legacy"])
async def test_announced_tool_list_change_is_picked_up(
    make_hub: HubFactory, protocol: str
) -> None:
    hub = make_hub({"dynamic": python_server(
        "dynamic_server", "--tools", "3", "--page-size", "2", protocol=protocol,
    )})
    await hub.discover()
    assert len(hub.capabilities) == 5
    await hub.call_tool("dynamic", "add_tools", {"count": 4})
    # No discover() call: the server's announcement alone refreshes the catalogue.
    await eventually(lambda: len(hub.capabilities) == 9)
    assert await hub.call_tool("dynamic", "item_006", {"note": "new"}) == {
        "text": "item_006: new", "structured_content": None,
    }


def _tool(name: str, annotations: types.ToolAnnotations | None = None) -> types.Tool:
    return types.Tool(name=name, input_schema={"type": "object"}, annotations=annotations)


def test_unannotated_tool_is_treated_as_destructive() -> None:
    # The specification's defaults: not read-only, and destructive unless it says not.
    caps = to_capabilities("s", [_tool("mutate"), _tool("peek", types.ToolAnnotations(
        readOnlyHint=True))], ServerOptions())
    assert caps["mutate"].sensitive and not caps["mutate"].read_only
    assert not caps["peek"].sensitive and caps["peek"].read_only


def test_options_override_annotations_and_keep_an_unknown_compensations_name() -> None:
    options = ServerOptions.model_validate({"sensitive": False, "tools": {
        "wipe": {"sensitive": True, "compensation": "restore_from_nowhere"},
    }})
    caps = to_capabilities("s", [_tool("mutate"), _tool("wipe")], options)
    assert not caps["mutate"].sensitive
    # Kept under the name it would have: plans calling `wipe` are refused, naming it.
    assert caps["wipe"].sensitive
    assert caps["wipe"].compensation == "mcp.s.restore_from_nowhere"


def test_options_naming_tools_the_server_lacks_are_warned_about_by_field(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # At start-up the server may have changed since it was added: warned, not refused.
    options = ServerOptions.model_validate({"tools": {
        "deploi": {"produces": ["deployment"]}, "deploy": {"compensation": "undeploi"},
    }})
    with caplog.at_level("WARNING", logger="orchestrator.mcp.discovery"):
        caps = to_capabilities("cloud", [_tool("deploy"), _tool("undeploy")], options)
    assert caps["deploy"].compensation == "mcp.cloud.undeploi"
    assert caplog.messages == [
        "orchestrator.tools.deploi: MCP server 'cloud' offers no tool 'deploi' "
        "(did you mean 'deploy'?), so these options apply to nothing",
        "orchestrator.tools.deploy.compensation: MCP server 'cloud' offers no tool "
        "'undeploi' (did you mean 'undeploy'?), so plans calling 'deploy' are refused: "
        "they could not be undone",
    ]


def test_a_tool_the_include_list_leaves_out_is_not_called_missing() -> None:
    options = ServerOptions.model_validate({
        "include_tools": ["create_*"], "tools": {"delete_repository": {}}})
    offered = ["create_repository"]  # what include_tools lets through
    assert misnamed_tools("gh", options, offered) == [
        "orchestrator.tools.delete_repository: MCP server 'gh' offers no tool "
        "'delete_repository' (did you mean 'create_repository'? or include_tools/"
        "exclude_tools leave it out), so these options apply to nothing"]
    # Without the lists, no such hint.
    assert "leave it out" not in misnamed_tools(
        "gh", ServerOptions.model_validate({"tools": {"nope": {}}}), offered)[0]


@pytest.mark.parametrize(("name", "expected"), [
    ("git_status", "git_status"),
    ("get-sum", "get-sum"),
    ("createPullRequest", "create_pull_request"),
    ("files.read", "files_read"),
    ("2fa", "t_2fa"),
    ("Ünïcode tool!", "n_code_tool"),
    ("", "t"),
])
def test_names_become_valid_capability_segments(name: str, expected: str) -> None:
    assert segment(name) == expected


def test_colliding_tool_names_stay_distinct() -> None:
    segments = tool_segments(["create_repo", "Create_Repo", "create.repo", "other"])
    assert segments["create_repo"] == "create_repo" and segments["other"] == "other"
    assert len(set(segments.values())) == 4
    assert all(re.match(CAPABILITY_PATTERN, f"mcp.s.{s}") for s in segments.values())
