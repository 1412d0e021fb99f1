"""One `AgentRunner` over two: steps on an MCP server's agent go to the hub, every
other step to the built-in agents."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from orchestrator.agents.base import AgentResult, AgentRunner, StepContext

MCP_PREFIX = "mcp."


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
        # By agent first: several servers may share a capability named without `mcp.`.
        if self._is_mcp_agent(ctx.agent) or (not ctx.agent and capability.startswith(MCP_PREFIX)):
            return await self._mcp.run(capability, params, ctx)
        return await self._builtin.run(capability, params, ctx)
