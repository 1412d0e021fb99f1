"""Adding, removing and re-approving MCP servers.

The config file and a live hub change together, one change at a time, and the
file is written (atomically) only once every check has passed: a server whose
tools cannot be listed is not added, so nothing is ever half-done.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.mcp.catalogue import ListedTool
from orchestrator.mcp.config import (
    HttpServer,
    McpConfig,
    StdioServer,
    parse_config,
    read_config,
    save_config,
)
from orchestrator.mcp.discovery import misnamed_tools
from orchestrator.mcp.errors import (
    McpApprovalConflict,
    McpConfigError,
    McpServerExists,
    McpServerUnavailable,
    McpUnknownServer,
    McpUnknownTool,
    describe,
)
from orchestrator.mcp.hub import McpHub
from orchestrator.mcp.names import server_segment

# Names end up in URLs, log file names and capability prefixes: keep them plain.
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,39}$")


def check_name(name: str) -> None:
    if not _NAME.match(name):
        raise McpConfigError(
            "name: use 1-40 letters, digits, '.', '_' or '-', starting with a letter"
        )


def check_command(server: StdioServer) -> None:
    """Refuse a command there is no such program for: the entry's fault, told as
    such, rather than as a server that cannot be reached."""
    command = server.command
    where = Path(server.cwd) if server.cwd else Path.cwd()
    if os.sep in command:
        path = Path(command) if Path(command).is_absolute() else where / command
        if path.is_file() and os.access(path, os.X_OK):
            return
        raise McpConfigError(f"command: {command!r} is not an executable file"
                             + (f" (from {where})" if not Path(command).is_absolute() else ""))
    search = server.env.get("PATH", os.environ.get("PATH", os.defpath))
    if shutil.which(command, path=search) is None:
        raise McpConfigError(f"command: no program {command!r} on the PATH (give its full "
                             "path, or install it)")


def weakened_approvals(server: StdioServer | HttpServer) -> list[str]:
    """The fields of an entry that switch approvals off (`sensitive: false`)."""
    options = server.orchestrator
    fields = ["orchestrator.sensitive"] if options.sensitive is False else []
    fields += [
        f"orchestrator.tools.{tool}.sensitive"
        for tool, extra in sorted(options.tools.items()) if extra.sensitive is False
    ]
    return fields


@dataclass
class Followed:
    """What an edit of the config file changed in the servers served."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)


class McpAdmin:
    """Changes to the servers of `hub`, saved in the config file at `path`."""

    def __init__(self, hub: McpHub, path: Path) -> None:
        self.hub = hub
        self.path = path
        # Each change reads, edits and writes the whole file.
        self._lock = hub.editing

    async def add(
        self, name: str, server: StdioServer | HttpServer, *, connect: bool = True
    ) -> None:
        """Add a server. Unless `connect` is false (or the entry is disabled), its tools
        are listed first, and a server that cannot be listed is not added."""
        check_name(name)
        if connect and isinstance(server, StdioServer) and not server.disabled:
            check_command(server)
        async with self._lock:
            config = await asyncio.to_thread(read_config, self.path)
            self._check_free(name, config)
            updated = self._with(config, name, server)
            pinned_before = self.hub.pins.has(name)
            self.hub.add_server(name, server)
            try:
                if connect and not server.disabled:
                    await self._list(name, f"MCP server {name!r} was not added")
                    self._check_tool_names(name, server)
                await asyncio.to_thread(save_config, updated, self.path)
            except BaseException:
                # Pins this listing made go with it: left, they would judge whatever
                # server is added next under the name.
                self.hub.remove_server(name, forget_pins=not pinned_before)
                raise

    async def remove(self, name: str) -> None:
        """Remove a server from the file and the hub, and drop its pins."""
        async with self._lock:
            config = await asyncio.to_thread(read_config, self.path)
            if name not in config.servers and name not in self.hub.config.servers:
                raise McpUnknownServer(f"no MCP server named {name!r} is configured")
            if config.servers.pop(name, None) is not None:
                await asyncio.to_thread(save_config, config, self.path)
            self.hub.remove_server(name)

    async def follow(self, config: McpConfig) -> Followed:
        """Serve what `config` (the file, edited elsewhere) says: servers gone are
        removed, new ones added, changed ones replaced. Pins stay: `orchestrator mcp
        remove` forgets a server's pins itself, and a server that comes back after
        an edit (a file saved by deleting and writing it again, a rename undone)
        has its tools checked against them like any tool that changed."""
        async with self._lock:
            served = self.hub.config.servers
            followed = Followed(
                added=sorted(set(config.servers) - set(served)),
                removed=sorted(set(served) - set(config.servers)),
                changed=sorted(n for n in set(config.servers) & set(served)
                               if config.servers[n] != served[n]),
            )
            for name in followed.removed + followed.changed:
                self.hub.remove_server(name, forget_pins=False)
            for name in followed.added + followed.changed:
                self.hub.add_server(name, config.servers[name])
        return followed

    async def approve(
        self, server: str, tool: str, fingerprint: str | None = None
    ) -> ListedTool:
        """Accept a changed tool's current definition (only the one with `fingerprint`,
        when given, so that what is approved is what was shown)."""
        async with self._lock:
            entry = self.hub.config.servers.get(server)
            if entry is None:
                raise McpUnknownServer(f"no MCP server named {server!r} is configured")
            if entry.disabled:
                raise McpApprovalConflict(f"MCP server {server!r} is disabled")
            tools = self.hub.tools(server)
            if tools is None:
                await self._list(server, f"cannot list the tools of MCP server {server!r}")
                tools = self.hub.tools(server) or {}
            listed = tools.get(tool)
            if listed is None:
                raise McpUnknownTool(f"MCP server {server!r} offers no tool {tool!r}")
            if not any(c.server == server and c.tool == tool for c in self.hub.changed_tools()):
                raise McpApprovalConflict(
                    f"tool {tool!r} of MCP server {server!r} matches its approved "
                    "definition: nothing to approve"
                )
            if fingerprint is not None and fingerprint != listed.fingerprint:
                raise McpApprovalConflict(
                    f"tool {tool!r} of MCP server {server!r} is now {listed.fingerprint}, "
                    f"not {fingerprint}: look at it again before approving"
                )
            self.hub.approve(server, tool)
            return listed

    async def _list(self, name: str, failed: str) -> None:
        try:
            await self.hub.catalogue.refresh(name)
        except Exception as error:
            # Whatever broke (connection, protocol, a bad answer), the server is at fault.
            raise McpServerUnavailable(f"{failed}: {describe(error)}") from error

    def _check_tool_names(self, name: str, server: StdioServer | HttpServer) -> None:
        """Refuse options naming tools the server does not offer: a typo there
        would otherwise only surface as a rollback that skipped a step."""
        offered = self.hub.tools(name) or {}
        problems = misnamed_tools(name, server.orchestrator, offered)
        options = server.orchestrator
        if not offered and (options.include_tools is not None or options.exclude_tools):
            problems.append("orchestrator.include_tools/exclude_tools: they leave none of the "
                            f"tools of MCP server {name!r}, so it would serve nothing")
        if problems:
            raise McpConfigError("; ".join(problems))

    def _check_free(self, name: str, config: McpConfig) -> None:
        taken = {*config.servers, *self.hub.config.servers}
        if name in taken:
            raise McpServerExists(f"an MCP server named {name!r} exists already")
        prefix = server_segment(name)
        for other in sorted(taken):
            if server_segment(other) == prefix:
                raise McpServerExists(
                    f"MCP server {other!r} already publishes its tools as 'mcp.{prefix}.*'; "
                    f"choose a name other than {name!r}"
                )

    def _with(self, config: McpConfig, name: str, server: StdioServer | HttpServer) -> McpConfig:
        # Only the fields that were given are written: defaults stay implicit in the file.
        data = config.model_dump(mode="json", by_alias=True, exclude_unset=True)
        entry = server.model_dump(mode="json", by_alias=True, exclude_unset=True)
        data.setdefault("mcpServers", {})[name] = entry
        return parse_config(data, str(self.path))
