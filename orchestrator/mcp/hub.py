"""MCP servers as agents: one object that the worker builds once and closes at exit.

It discovers the configured servers' tools as capabilities (one agent per
server), runs capabilities as tool calls over pooled sessions, and refuses
tools that changed since they were pinned.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from orchestrator.agents.base import AgentResult, StepContext
from orchestrator.errors import OrchestratorError
from orchestrator.mcp.blobs import BlobStore
from orchestrator.mcp.calls import ProgressFn, ToolCaller
from orchestrator.mcp.catalogue import ListedTool, ToolCatalogue
from orchestrator.mcp.config import HttpServer, McpConfig, StdioServer, read_config
from orchestrator.mcp.names import agent_id
from orchestrator.mcp.pinning import PinStore, ToolChange
from orchestrator.mcp.sessions import SessionPool
from orchestrator.models import Agent, Capability
from orchestrator.settings import Settings


class McpHub:
    def __init__(
        self, config: McpConfig, *, data_dir: Path, blobs_dir: Path | None = None,
        inline_max_bytes: int = 64 * 1024, progress: ProgressFn | None = None,
    ) -> None:
        """`data_dir` holds the tool pins and the stdio servers' logs. `progress` is
        called for each progress notification of a call made through `run` (the
        worker passes one that heartbeats the step's activity). Sessions belong to
        the event loop the hub is used on: one hub per process and loop."""
        self._progress = progress
        # A copy: servers are added and removed while the hub runs.
        self._config = config.model_copy(update={"servers": dict(config.servers)})
        self.pool = SessionPool(
            config.enabled(), log_dir=data_dir / "logs",
            on_tools_changed=self._tools_changed, on_reconnect=self._reconnected,
        )
        self.pins = PinStore(data_dir / "pins.json")
        self.catalogue = ToolCatalogue(self.pool, self.pins)
        self.blobs = BlobStore(blobs_dir or data_dir / "blobs")
        self._caller = ToolCaller(self.pool, self.catalogue, self.blobs, inline_max_bytes)
        # One change to the servers at a time, whoever makes it (the API, the
        # config file's watch): each reads the file and the hub, then changes both.
        self.editing = asyncio.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, progress: ProgressFn | None = None) -> McpHub:
        config = read_config(settings.mcp_config_path)
        return cls(
            config, data_dir=settings.mcp_dir, blobs_dir=settings.blobs_dir,
            inline_max_bytes=settings.mcp_inline_max_bytes, progress=progress,
        )

    @property
    def config(self) -> McpConfig:
        """Every server this hub serves, disabled ones included."""
        return self._config

    def add_server(self, name: str, server: StdioServer | HttpServer) -> None:
        """Serve one more server (it connects on first use); saving it is the caller's part."""
        self._config.servers[name] = server
        if not server.disabled:
            self.pool.add(name, server)

    def remove_server(self, name: str, *, forget_pins: bool = True) -> None:
        """Stop serving a server: its session closes, its tools leave the catalogue and,
        unless told otherwise, its pins are dropped."""
        self._config.servers.pop(name, None)
        self.pool.remove(name)
        self.catalogue.forget(name)
        if forget_pins:
            self.pins.forget(name)

    def tools(self, server: str) -> dict[str, ListedTool] | None:
        """The server's tools as last listed; None if they never were."""
        return self.catalogue.listed(server)

    def last_error(self, server: str) -> str | None:
        """Why the server's last listing failed, if it did."""
        return self.catalogue.last_error(server)

    async def discover(self, servers: list[str] | None = None) -> dict[str, OrchestratorError]:
        """List the servers' tools (all when `servers` is None); returns the failures by server."""
        return await self.catalogue.discover(servers)

    def serves(self, agent: str) -> bool:
        """Whether `agent` is the agent of one of this hub's servers."""
        return any(agent_id(name) == agent for name in self._config.servers)

    @property
    def capabilities(self) -> list[Capability]:
        return self.catalogue.capabilities()

    @property
    def agents(self) -> list[Agent]:
        return self.catalogue.agents()

    def changed_tools(self) -> list[ToolChange]:
        return self.catalogue.changed_tools()

    def unavailable(self) -> dict[str, str]:
        """Servers configured whose tools no plan can use now, with why."""
        why = {}
        for name, server in self._config.servers.items():
            if server.disabled:
                why[name] = "is disabled"
            elif self.tools(name) is None:
                error = self.last_error(name)
                why[name] = (f"has not answered ({error})" if error
                             else "has not listed its tools yet")
        return why

    def changed_calls(self) -> dict[tuple[str, str], ToolChange]:
        """The tools refused until approved, by the (capability, agent) calling them."""
        calls = {}
        for change in self.changed_tools():
            listed = (self.tools(change.server) or {}).get(change.tool)
            if listed is not None:
                calls[(listed.capability.name, agent_id(change.server))] = change
        return calls

    async def changed_calls_now(
        self, servers: Iterable[str]
    ) -> dict[tuple[str, str], ToolChange]:
        """`changed_calls`, the given servers listed again first if they may have
        changed since (a server restarted serves what its code says now)."""
        await self.catalogue.current(servers)
        return self.changed_calls()

    def approve(self, server: str, tool: str) -> None:
        self.catalogue.approve(server, tool)

    async def call_tool(
        self, server: str, tool: str, arguments: dict[str, Any],
        *, progress: ProgressFn | None = None,
    ) -> dict[str, Any]:
        return await self._caller.call_tool(server, tool, arguments, progress=progress)

    async def run(
        self, capability: str, params: dict[str, Any], ctx: StepContext
    ) -> AgentResult:
        """The `AgentRunner` entry: run a capability a server's tool provides, on the
        server of the step's agent when it names one (several may provide it)."""
        _, output = await self.call(capability, params, ctx)
        return AgentResult(output=output)

    async def call(
        self, capability: str, params: dict[str, Any], ctx: StepContext
    ) -> tuple[ListedTool, dict[str, Any]]:
        """`run`, with the tool that ran."""
        tool = await self.catalogue.resolve(capability, ctx.agent)
        output = await self.call_tool(tool.server, tool.definition.name, params,
                                      progress=self._progress)
        return tool, output

    async def close(self) -> None:
        await self.pool.close()
        await self.catalogue.close()

    async def __aenter__(self) -> McpHub:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    def _tools_changed(self, server: str) -> None:
        self.catalogue.tools_changed(server)

    def _reconnected(self, server: str) -> None:
        self.catalogue.mark_stale(server)
