"""Which entities a tool call made, used or named, from its capability's hints and
the call itself."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from orchestrator.agents.base import StepContext
from orchestrator.graph.embedded import EmbeddedGraphStore
from orchestrator.mcp.entities import ToolEntities
from orchestrator.models import Capability, EntityRef
from orchestrator.planning.tool_made import made, mentioned, needed
from tests.mcp.conftest import HubFactory
from tests.mcp.support import python_server


def _tool(produces: list[str] | None = None, consumes: list[str] | None = None) -> Capability:
    return Capability(name="mcp.t.tool", description="", input_schema={},
                      produces=produces or [], consumes=consumes or [])


def _keys(refs: list[EntityRef]) -> list[str]:
    return [r.key for r in refs]


def test_what_a_tool_made_is_named_by_its_result_first() -> None:
    tool = _tool(produces=["repository"])
    output: dict[str, Any] = {"structured_content": {"name": "shop-2"}}
    assert _keys(made(tool, {"name": "shop"}, output)) == ["repository:shop-2"]
    assert _keys(made(tool, {"name": "shop"}, {"structured_content": None})) == [
        "repository:shop"]
    assert _keys(made(tool, {"repo": "shop"})) == ["repository:shop"]
    assert _keys(made(tool, {"repository_name": "shop"})) == ["repository:shop"]


def test_only_the_first_kind_made_takes_the_calls_name() -> None:
    tool = _tool(produces=["cluster", "namespace"])
    assert _keys(made(tool, {"name": "prod", "namespace": "web"})) == [
        "cluster:prod", "namespace:web"]
    assert _keys(made(tool, {"name": "prod"})) == ["cluster:prod"]


def test_values_that_are_no_entity_names_are_left_out() -> None:
    tool = _tool(produces=["file"], consumes=["cluster"])
    params = {"name": "/tmp/report.txt", "cluster": "Prod"}
    assert made(tool, params) == []
    assert needed(tool, params) == []
    assert made(tool, {"name": 3}) == []


def test_what_a_tool_used_is_named_by_the_argument_of_its_kind_never_by_name() -> None:
    tool = _tool(produces=["deployment"], consumes=["repository", "cluster"])
    params = {"name": "web", "repo": "shop", "cluster": "prod"}
    assert _keys(needed(tool, params)) == ["repository:shop", "cluster:prod"]
    assert _keys(needed(tool, {"name": "prod"})) == []


def test_arguments_named_after_other_known_kinds_are_mentioned() -> None:
    tool = _tool(consumes=["cluster"])
    params = {"cluster": "prod", "app": "shop", "name": "x", "region": "eu-west-1"}
    assert _keys(mentioned(tool, params, {"application", "cluster"})) == ["application:shop"]
    assert mentioned(tool, params, {"cluster"}) == []


GITHUB = {"create_repository": {"produces": ["repository"],
                                "compensation": "delete_repository"}}
SHOP = EntityRef(kind="repository", name="shop")


def _ctx(undo: bool = False) -> StepContext:
    return StepContext(workflow_id="wf", step_id="repo", attempt=1, undo=undo)


async def _github(make_hub: HubFactory, store: EmbeddedGraphStore, state: Path
                  ) -> ToolEntities:
    hub = make_hub({"github": python_server("github_server", "--state", str(state),
                                            tools=GITHUB)})
    assert await hub.discover() == {}
    return ToolEntities(hub, store, lambda: {"repository"})


async def test_a_step_keeps_what_it_made_and_its_undo_removes_it(
    make_hub: HubFactory, store: EmbeddedGraphStore, tmp_path: Path,
) -> None:
    tools = await _github(make_hub, store, tmp_path / "github.json")
    result = await tools.run("mcp.github.create_repository", {"name": "shop"}, _ctx())
    assert result.operates_on == [SHOP]
    entity = await store.get_entity(SHOP)
    assert entity is not None and entity.created_by == "wf/repo"
    assert entity.attrs == {"tool": "mcp.github.create_repository"}

    # Another step's undo of the same name leaves it: it is not what that step made.
    other = StepContext(workflow_id="wf", step_id="other", attempt=1, undo=True)
    await tools.run("mcp.github.delete_repository", {"name": "shop"}, other)
    assert await store.get_entity(SHOP) is not None
    undone = await tools.run("mcp.github.delete_repository", {"name": "shop"}, _ctx(undo=True))
    assert undone.operates_on == []
    assert await store.get_entity(SHOP) is None


async def test_a_graph_that_cannot_take_them_leaves_the_tools_work_standing(
    make_hub: HubFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    state = tmp_path / "github.json"
    closed = EmbeddedGraphStore(tmp_path / "closed.lbug")
    await closed.setup()
    tools = await _github(make_hub, closed, state)
    await closed.close()
    result = await tools.run("mcp.github.create_repository", {"name": "shop"}, _ctx())
    assert result.operates_on == []
    assert result.output["structured_content"]["name"] == "shop"
    assert "shop" in json.loads(state.read_text())["repositories"]
    assert "the entities of step wf/repo were not recorded" in caplog.text
