"""Planning refuses a step whose every agent would call a tool that changed since it
was approved; a step another server can take over is left to fail over."""

from __future__ import annotations

import pytest

from activities.planning import _refuse_changed_tools
from orchestrator.errors import CannotPlan
from orchestrator.mcp.pinning import ToolChange
from orchestrator.models import Capability, Plan, PlanOutput, Step

DEPLOY = "cloud.deploy"


def _planned(*fallbacks: str) -> PlanOutput:
    step = Step(id="deploy", capability=DEPLOY, agent="mcp-east", fallbacks=list(fallbacks))
    return PlanOutput(plan=Plan(intent="deploy", request="deploy", steps=[step]),
                      capabilities={DEPLOY: Capability(name=DEPLOY, description="Deploy.",
                                                      input_schema={"type": "object"})},
                      agents={})


def _changed(*servers: str) -> dict[tuple[str, str], ToolChange]:
    return {(DEPLOY, f"mcp-{s}"): ToolChange(server=s, tool="deploy", pinned="a", current="b")
            for s in servers}


def test_a_step_whose_only_agent_calls_a_changed_tool_is_refused() -> None:
    with pytest.raises(CannotPlan, match="step deploy: tool 'deploy' of MCP server 'east' "
                                         "changed since it was approved"):
        _refuse_changed_tools(_planned(), _changed("east"))


def test_a_step_another_server_can_take_over_is_left_to_fail_over() -> None:
    _refuse_changed_tools(_planned("mcp-west"), _changed("east"))
    with pytest.raises(CannotPlan):
        _refuse_changed_tools(_planned("mcp-west"), _changed("east", "west"))
