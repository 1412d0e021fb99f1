"""Which entities a tool call made, used or named, from its capability's hints and
the call itself."""

from __future__ import annotations

from typing import Any

from orchestrator.mcp.entities import made, mentioned, needed
from orchestrator.models import Capability, EntityRef


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
