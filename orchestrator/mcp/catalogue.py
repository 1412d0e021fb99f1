"""The tools of every configured server, kept current and checked against their pins.

A server says when its tools change (`notifications/tools/list_changed`); the
catalogue then lists them again in the background, so capabilities stay current
and a changed tool is caught before the next call to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import mcp.types as types
from mcp import Client

from orchestrator.errors import OrchestratorError
from orchestrator.mcp.discovery import (
    list_tools,
    needs_tasks,
    selected,
    to_agent,
    to_capabilities,
)
from orchestrator.mcp.errors import (
    McpServerUnavailable,
    McpToolChanged,
    McpUnknownServer,
    McpUnknownTool,
    describe,
)
from orchestrator.mcp.names import agent_id, server_segment
from orchestrator.mcp.pinning import PinStore, ToolChange, fingerprint
from orchestrator.mcp.sessions import SessionPool
from orchestrator.models import Agent, Capability

log = logging.getLogger(__name__)


# How long planning waits for a server to list its tools again (`current`).
CURRENT_WAIT_S = 5.0


@dataclass(frozen=True)
class ListedTool:
    """One tool as last listed, with the capability it is published as."""

    server: str
    definition: types.Tool
    capability: Capability
    fingerprint: str


@dataclass(frozen=True)
class ServerTools:
    tools: dict[str, ListedTool]
    agent: Agent


class ToolCatalogue:
    def __init__(self, pool: SessionPool, pins: PinStore) -> None:
        self._pool = pool
        self._pins = pins
        self._servers: dict[str, ServerTools] = {}
        self._stale: set[str] = set()
        self._changes: dict[str, list[ToolChange]] = {}
        self._refreshing: dict[str, asyncio.Task[ServerTools]] = {}
        # Servers that announced a change while being listed: list them once more.
        self._again: set[str] = set()
        # Why the last listing of a server failed, until one succeeds.
        self._errors: dict[str, str] = {}
        # The session each server's tools were last listed on: a call going out on
        # another one (the server restarted since) must not trust that listing.
        self._listed_on: dict[str, Client] = {}
        # Called whenever the published capabilities may have changed.
        self._listeners: list[Callable[[], None]] = []

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call `listener` after each listing and each removal of a server."""
        self._listeners.append(listener)

    def _changed(self) -> None:
        for listener in self._listeners:
            try:
                listener()
            except Exception:
                log.exception("MCP catalogue listener failed")

    def tools_changed(self, server: str) -> None:
        """The server announced a new tool list: list it again in the background."""
        self.mark_stale(server)
        if server in self._refreshing:
            self._again.add(server)
        else:
            self._start_refresh(server)

    def mark_stale(self, server: str) -> None:
        """List the server's tools again before the next call to one of them."""
        self._stale.add(server)

    async def discover(self, servers: list[str] | None = None) -> dict[str, OrchestratorError]:
        """List every (or the given) server's tools; a server that cannot be reached
        does not stop the others, and its failure is returned by name."""
        failures: dict[str, OrchestratorError] = {}
        for server in servers if servers is not None else sorted(self._pool.servers):
            try:
                await self.refresh(server)
            except OrchestratorError as error:
                log.warning("MCP server %s: discovery failed: %s", server, error)
                failures[server] = error
        return failures

    async def refresh(self, server: str) -> ServerTools:
        if server not in self._pool.servers:
            raise McpUnknownTool(f"no MCP server named {server!r} is configured")
        task = self._refreshing.get(server) or self._start_refresh(server)
        # Shielded: the listing serves every waiter, not only the one that started it.
        return await asyncio.shield(task)

    async def current(self, servers: Iterable[str], wait_s: float = CURRENT_WAIT_S) -> None:
        """List again the servers whose tools may have changed since they were last
        listed: announced a change, or their session ended (a server restarted after
        an upgrade says nothing of it). One that does not answer within `wait_s`
        keeps its last listing; its calls are checked when they are made."""
        for server in servers:
            ended = self._pool.opened(server) > 0 and not self._pool.is_alive(server)
            if ended or server in self._stale or server in self._refreshing:
                with contextlib.suppress(OrchestratorError, TimeoutError):
                    await asyncio.wait_for(self.refresh(server), wait_s)

    async def tool(self, server: str, name: str) -> ListedTool:
        """The tool to call: listed afresh if the server changed since, refused if its
        definition no longer matches its pin."""
        # Waits for a listing under way too: the tool may be the one that changed.
        if server in self._stale or server in self._refreshing or server not in self._servers:
            await self.refresh(server)
        return self._checked(server, name)

    async def checked_on(self, tool: ListedTool, client: Client) -> ListedTool:
        """`tool` as the session `client` offers it, just before a call goes out on
        that session. On the session its server was listed on, that is `tool` itself
        (no request). On a newer one (the server restarted, or lost its session,
        after `tool` was checked) the server is listed first and the pin checked
        again: a restarted process may offer another definition under the name."""
        server, name = tool.server, tool.definition.name
        # Twice at most: a listing already under way may be on the old session.
        for _ in range(2):
            if self._listed_on.get(server) is client:
                entry = self._servers.get(server)
                current = entry.tools.get(name) if entry else None
                # Listed again on this session since `tool` was checked: check that one.
                return tool if current is tool else self._checked(server, name)
            await self.refresh(server)
        raise McpServerUnavailable(f"MCP server {server!r} restarted while its tools were listed")

    def _checked(self, server: str, name: str) -> ListedTool:
        entry = self._servers.get(server)
        tool = entry.tools.get(name) if entry else None
        if tool is None:
            raise McpUnknownTool(
                f"MCP server {server!r} offers no tool {name!r} (or the configuration excludes it)"
            )
        if any(c.tool == name for c in self._changes.get(server, [])):
            # Another process (the CLI, another worker) may have approved it since.
            if self._pins.pinned(server, name) != tool.fingerprint:
                raise McpToolChanged(server, name)
            self._changes[server] = [c for c in self._changes[server] if c.tool != name]
        return tool

    async def resolve(self, capability: str, agent: str = "") -> ListedTool:
        """The tool behind a capability (on the server of `agent`, when given: several
        servers may provide one capability); its server is listed first if this
        process has not listed it yet (a fresh worker, say)."""
        found = self._find(capability, agent)
        if found is None:
            prefix = capability.split(".")[1] if capability.count(".") >= 2 else ""
            for server in list(self._pool.servers):
                named = agent_id(server) == agent if agent else server_segment(server) == prefix
                if named and server not in self._servers:
                    await self.refresh(server)
            found = self._find(capability, agent)
        if found is None:
            raise McpUnknownTool(f"no MCP tool provides capability {capability!r}")
        return await self.tool(found.server, found.definition.name)

    def _find(self, capability: str, agent: str = "") -> ListedTool | None:
        for name in sorted(self._servers):
            entry = self._servers[name]
            if agent and entry.agent.id != agent:
                continue
            for tool in entry.tools.values():
                if tool.capability.name == capability:
                    return tool
        return None

    def capabilities(self) -> list[Capability]:
        """One capability per name: a name several servers provide (`provides`) is
        defined by the first of them in name order."""
        found: dict[str, Capability] = {}
        for name in sorted(self._servers):
            for tool in self._servers[name].tools.values():
                found.setdefault(tool.capability.name, tool.capability)
        return [found[n] for n in sorted(found)]

    def agents(self) -> list[Agent]:
        return [self._servers[name].agent for name in sorted(self._servers)]

    def listed(self, server: str) -> dict[str, ListedTool] | None:
        """The server's tools as last listed, by name; None if never listed."""
        entry = self._servers.get(server)
        return dict(entry.tools) if entry else None

    def last_error(self, server: str) -> str | None:
        return self._errors.get(server)

    def unanswered(self, server: str, why: str) -> None:
        """The server did not answer a probe: told as its last error until a listing
        succeeds."""
        if server in self._pool.servers:
            self._errors[server] = why

    def forget(self, server: str) -> None:
        """The server is no longer configured: drop its tools and what is known of it."""
        for known in (self._servers, self._changes, self._errors, self._listed_on):
            known.pop(server, None)
        self._stale.discard(server)
        self._again.discard(server)
        self._changed()

    def changed_tools(self) -> list[ToolChange]:
        """Tools refused until approved, because they differ from their pins. Read
        against the pins as they are: another process (`orchestrator mcp approve`,
        another worker) may have approved some since."""
        for server, changes in self._changes.items():
            self._changes[server] = [
                c for c in changes if self._pins.pinned(server, c.tool) != c.current
            ]
        return [change for name in sorted(self._changes) for change in self._changes[name]]

    def approve(self, server: str, name: str) -> None:
        """Accept the tool's current definition: pin it and allow calls again."""
        entry = self._servers.get(server)
        tool = entry.tools.get(name) if entry else None
        if tool is None:
            raise McpUnknownTool(f"MCP server {server!r} has no listed tool {name!r} to approve")
        self._pins.approve(server, name, tool.fingerprint)
        self._changes[server] = [c for c in self._changes.get(server, []) if c.tool != name]

    async def close(self) -> None:
        """Wait for listings under way; close the pool first, so that they end at once
        (their callers get a failure rather than a cancellation they did not ask for)."""
        await asyncio.gather(*self._refreshing.values(), return_exceptions=True)

    def _start_refresh(self, server: str) -> asyncio.Task[ServerTools]:
        task = asyncio.create_task(self._list(server), name=f"mcp-tools:{server}")
        self._refreshing[server] = task
        task.add_done_callback(functools.partial(self._refreshed, server))
        return task

    def _refreshed(self, server: str, task: asyncio.Task[ServerTools]) -> None:
        self._refreshing.pop(server, None)
        if not task.cancelled() and task.exception() is not None:
            log.warning("MCP server %s: listing tools failed: %s", server, task.exception())
        if server in self._again:
            self._again.discard(server)
            self._start_refresh(server)

    async def _list(self, server: str) -> ServerTools:
        try:
            entry = await self._list_tools(server)
        except Exception as error:
            if server in self._pool.servers:
                self._errors[server] = describe(error)
            raise
        self._errors.pop(server, None)
        return entry

    async def _list_tools(self, server: str) -> ServerTools:
        config = self._pool.servers.get(server)
        if config is None:
            raise McpUnknownServer(f"no MCP server named {server!r} is configured")
        options = config.orchestrator
        # Cleared before listing: a change announced meanwhile is listed again.
        self._stale.discard(server)
        async with self._pool.session(server) as client:
            offered = await list_tools(client, server)
            listed = selected(offered, options)
        if offered and not listed and server not in self._servers:
            # `mcp add` and the API refuse such options; a file edited by hand is
            # served as it says, and told once.
            log.warning("MCP server %s: include_tools/exclude_tools leave none of its %d "
                        "tools: it serves nothing", server, len(offered))
        tasks_only = sorted(t.name for t in offered if needs_tasks(t))
        if tasks_only and server not in self._servers:
            log.info("MCP server %s: left out %s: they answer only task-augmented calls",
                     server, ", ".join(tasks_only))
        if server not in self._pool.servers:
            # Removed while it was being listed: its tools must not come back.
            raise McpUnknownServer(f"MCP server {server!r} was removed")
        capabilities = to_capabilities(server, listed, options)
        tools = {
            t.name: ListedTool(server, t, capabilities[t.name], fingerprint(t)) for t in listed
        }
        known = {c.tool for c in self._changes.get(server, [])}
        self._changes[server] = self._pins.check(
            server, {name: t.fingerprint for name, t in tools.items()}
        )
        for change in self._changes[server]:
            if change.tool not in known:
                log.warning("MCP server %s changed tool %s; calls refused until approved",
                            server, change.tool)
        entry = ServerTools(
            tools=tools,
            agent=to_agent(server, {t: c.name for t, c in capabilities.items()}, options),
        )
        self._servers[server] = entry
        self._listed_on[server] = client
        self._changed()
        return entry

