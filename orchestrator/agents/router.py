"""One `AgentRunner` over two: steps on an MCP server's agent go to the hub, every
other step to the built-in agents."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from orchestrator.agents.base import AgentResult, AgentRunner, StepContext
from orchestrator.errors import InvalidInput
from orchestrator.mcp.names import AGENT_PREFIX, CAPABILITY_PREFIX


class AgentRouter:
    def __init__(
        self, builtin: AgentRunner, mcp: AgentRunner, is_mcp_agent: Callable[[str], bool]
    ) -> None:
        """`is_mcp_agent` tells whether an agent id is an MCP server's (servers come
        and go while the worker runs, so it is asked at every call)."""
        self._builtin = builtin
        self._mcp = mcp
        self._is_mcp_agent = is_mcp_agent

    async def run(
        self, capability: str, params: dict[str, Any], ctx: StepContext
    ) -> AgentResult:
        server = _mcp_server(capability, ctx.agent)
        if server is None:
            return await self._builtin.run(capability, params, ctx)
        # By agent first: several servers may share a capability named without `mcp.`.
        if self._is_mcp_agent(ctx.agent or AGENT_PREFIX + server):
            return await self._mcp.run(capability, params, ctx)
        # Planned on a server since removed (a run in flight or awaiting approval):
        # the built-in agents could only say that they do not know the capability.
        raise InvalidInput(f"MCP server {server!r} is not configured (removed?)")


def _mcp_server(capability: str, agent: str) -> str | None:
    """The MCP server a step names, by its agent (`mcp-cloud`) or its capability
    (`mcp.cloud.deploy`); None for a step of the built-in agents."""
    if agent.startswith(AGENT_PREFIX):
        return agent.removeprefix(AGENT_PREFIX)
    if capability.startswith(CAPABILITY_PREFIX):
        return capability.split(".")[1]
    return None
