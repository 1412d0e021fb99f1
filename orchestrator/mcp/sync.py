"""Keeps the agent registry and the graph in step with the MCP servers' tools.

The worker plans over the registry and the graph shows the catalogue, so both
follow every listing (start-up, `list_changed`, a server added, a restart) and
every removal. A server that cannot be reached at start-up does not stop the
worker: it is tried again in the background, and its tools arrive when it answers;
a server whose listing failed later is tried again the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from orchestrator.agents.registry import AgentRegistry
from orchestrator.errors import OrchestratorError
from orchestrator.graph.store import GraphStore, McpServerRecord, ToolRecord
from orchestrator.mcp.hub import McpHub
from orchestrator.mcp.names import agent_id
from orchestrator.models import AgentKind

log = logging.getLogger(__name__)

# Waits between attempts to list a server that did not answer: doubling, capped.
FIRST_RETRY_S = 1.0
MAX_RETRY_S = 60.0
# How long start-up waits for the servers before the worker goes on without them.
STARTUP_WAIT_S = 10.0


class CatalogueSync:
    def __init__(self, hub: McpHub, registry: AgentRegistry, store: GraphStore) -> None:
        self._hub = hub
        self._registry = registry
        self._store = store
        self._mirrored: set[str] = set()
        self._dirty = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._retry: asyncio.Task[None] | None = None
        self._starting: list[asyncio.Task[dict[str, OrchestratorError]]] = []
        hub.catalogue.on_change(self.refresh)

    async def start(self, wait_s: float = STARTUP_WAIT_S) -> None:
        """List every server at once, publish what answered within `wait_s`, and
        keep trying the others in the background."""
        listings = {
            asyncio.create_task(self._hub.discover([name]), name=f"mcp-discover:{name}"): name
            for name in sorted(self._hub.pool.servers)
        }
        if listings:
            await asyncio.wait(listings, timeout=wait_s)
        for task, name in sorted(listings.items(), key=lambda item: item[1]):
            # Still connecting: it goes on in the background and publishes when done.
            if not task.done() or task.exception() is not None or task.result():
                log.warning("MCP server %s did not answer at start-up; its tools come "
                            "when it does: %s", name, self._hub.last_error(name) or "waiting")
        self._starting = [t for t in listings if not t.done()]
        self.refresh()
        await self.flush()
        self._retry = asyncio.create_task(self._retry_unlisted(), name="mcp-retry")

    def refresh(self) -> None:
        """Publish the hub's current tools in the registry now and in the graph soon."""
        clashes = self._registry.replace_kind(
            AgentKind.MCP, self._hub.capabilities, self._hub.agents
        )
        for name in clashes:
            log.warning("MCP capability %s is left out: a built-in agent provides it", name)
        self._dirty.set()
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write(), name="mcp-graph")

    async def flush(self) -> None:
        """Wait until the graph holds what the registry holds."""
        while self._writer is not None and not self._writer.done():
            await asyncio.shield(self._writer)

    async def close(self) -> None:
        for task in (self._retry, self._writer, *self._starting):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _write(self) -> None:
        # Changes that arrive while writing are written by the next pass.
        while self._dirty.is_set():
            self._dirty.clear()
            try:
                await self._mirror()
            except Exception:
                log.exception("mirroring the MCP catalogue into the graph failed")
                return

    async def _mirror(self) -> None:
        servers = [self._record(name) for name in sorted(self._hub.config.servers)]
        listed = [s for s in servers if s is not None]
        await self._store.register_catalogue(self._registry.capabilities, self._registry.agents)
        await self._store.register_mcp_servers(listed)
        current = {s.name for s in listed}
        for gone in sorted(self._mirrored - current):
            if gone not in self._hub.config.servers:
                await self._store.forget_mcp_server(gone)
        self._mirrored = current

    def _record(self, server: str) -> McpServerRecord | None:
        tools = self._hub.tools(server)
        if tools is None:
            return None
        published = {c.name for c in self._registry.capabilities}
        return McpServerRecord(name=server, agent=agent_id(server), tools=[
            ToolRecord(
                name=name, capability=tool.capability.name,
                description=tool.capability.description,
                read_only=tool.capability.read_only, sensitive=tool.capability.sensitive,
            )
            for name, tool in sorted(tools.items()) if tool.capability.name in published
        ])

    async def _retry_unlisted(self) -> None:
        """List again, backing off, the servers never listed and those whose last
        listing failed: a server that comes back is then told as ready without a
        call or a refresh."""
        wait = FIRST_RETRY_S
        while True:
            await asyncio.sleep(wait)
            waiting = [n for n in sorted(self._hub.pool.servers)
                       if self._hub.tools(n) is None or self._hub.last_error(n)]
            if not waiting:
                wait = FIRST_RETRY_S
                continue
            try:
                failures: object = await self._hub.discover(waiting)
            except Exception as error:
                failures = error
            wait = min(wait * 2, MAX_RETRY_S) if failures else FIRST_RETRY_S
