"""What the CLI and the API show of the configured servers and their tools.

Values of `env` and `headers` are secrets and are never shown, only their keys;
so are the password in a URL and the values of its query string.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from pydantic import BaseModel

from orchestrator.mcp.catalogue import ListedTool
from orchestrator.mcp.config import HttpServer, ServerOptions, StdioServer
from orchestrator.mcp.hub import McpHub

Status = Literal["ready", "unreachable", "not_listed", "disabled"]
# How long a shown server's probe may take, and a listing asked for.
PROBE_S = 2.0
LIST_S = 10.0


class ToolView(BaseModel):
    name: str
    capability: str
    description: str
    annotations: dict[str, Any]
    input_schema: dict[str, Any]
    read_only: bool
    # Calls wait for an approval.
    sensitive: bool
    # sha256 of the definition offered now, and of the one approved.
    fingerprint: str
    pinned: str | None
    # Offered now differs from approved: calls are refused until it is approved again.
    changed: bool


class ServerView(BaseModel):
    name: str
    transport: Literal["stdio", "http"]
    command: str | None = None
    args: list[str] = []
    url: str | None = None
    env_keys: list[str] = []
    header_keys: list[str] = []
    disabled: bool = False
    options: ServerOptions
    status: Status
    last_error: str | None = None
    # None while its tools are unknown (never listed: unreachable since the start,
    # or disabled); 0 would say it serves nothing.
    tool_count: int | None = None
    # Tools refused until approved again (rug-pull protection).
    changed_tools: list[str] = []


class ServerDetail(ServerView):
    tools: list[ToolView] = []


async def list_unlisted(hub: McpHub, servers: list[str] | None = None, *,
                        again: bool = False) -> None:
    """List, side by side, the tools of the enabled servers never listed yet
    (all of them with `again`); failures are kept as the servers' last errors.
    The HTTP servers listed before are pinged: one that went down since says
    nothing until a request fails, and would show as ready."""
    names = servers if servers is not None else sorted(hub.config.enabled())
    enabled = hub.config.enabled()
    todo = [n for n in names if n in enabled and (again or hub.tools(n) is None)]
    probed = [n for n in names if n in enabled and n not in todo
              and isinstance(enabled[n], HttpServer)]
    work = [*(_listed(hub, name) for name in todo), *(_probe(hub, n) for n in probed)]
    await asyncio.gather(*work, return_exceptions=True)


async def _listed(hub: McpHub, name: str) -> None:
    """List the server's tools, for at most LIST_S: a server that hangs (its port
    open, no answer) held the request for as long as it hung."""
    try:
        async with asyncio.timeout(LIST_S):
            await hub.discover([name])
    except TimeoutError:
        hub.catalogue.unanswered(
            name, f"MCP server {name!r} did not answer within {LIST_S:g} s")


async def _probe(hub: McpHub, name: str) -> None:
    """Ask the server for its tools on its session (the protocol's `ping` is gone
    from its newest version), for at most PROBE_S in all. One that does not answer
    in time is told so; one that fails is listed again by the catalogue, which
    records why; one that answers after it had failed is listed again, which
    clears that."""
    try:
        async with asyncio.timeout(PROBE_S):
            try:
                async with hub.pool.session(name) as client:
                    await client.list_tools()
            except Exception:  # whatever went wrong, the listing says it in its words
                await hub.discover([name])
                return
            if hub.last_error(name):
                await hub.discover([name])
    except TimeoutError:
        hub.catalogue.unanswered(
            name, f"MCP server {name!r} did not answer within {PROBE_S:g} s")


def server_view(hub: McpHub, name: str) -> ServerView:
    return ServerView(**_server_fields(hub, name))


def server_detail(hub: McpHub, name: str) -> ServerDetail:
    changes = {c.tool: c.pinned for c in hub.changed_tools() if c.server == name}
    tools = hub.tools(name) or {}
    return ServerDetail(
        **_server_fields(hub, name),
        tools=[_tool_view(tools[t], changes.get(t)) for t in sorted(tools)],
    )


def _server_fields(hub: McpHub, name: str) -> dict[str, Any]:
    server = hub.config.servers[name]
    tools = hub.tools(name)
    error = hub.last_error(name)
    status: Status = (
        "disabled" if server.disabled else "unreachable" if error
        else "not_listed" if tools is None else "ready"
    )
    fields: dict[str, Any] = {
        "name": name, "disabled": server.disabled, "options": server.orchestrator,
        "status": status, "last_error": error, "tool_count": None if tools is None else len(tools),
        "changed_tools": [c.tool for c in hub.changed_tools() if c.server == name],
    }
    if isinstance(server, StdioServer):
        fields |= {"transport": "stdio", "command": server.command, "args": server.args,
                   "env_keys": sorted(server.env)}
    else:
        fields |= {"transport": "http", "url": public_url(server),
                   "header_keys": sorted(server.headers)}
    return fields


def _tool_view(tool: ListedTool, pinned_before: str | None) -> ToolView:
    notes = tool.definition.annotations
    # As MCP spells them (`readOnlyHint`), so they read as in the server's own docs.
    annotations = notes.model_dump(mode="json", by_alias=True, exclude_none=True) if notes else {}
    return ToolView(
        name=tool.definition.name, capability=tool.capability.name,
        description=tool.capability.description,
        annotations=annotations,
        input_schema=tool.capability.input_schema,
        read_only=tool.capability.read_only, sensitive=tool.capability.sensitive,
        fingerprint=tool.fingerprint,
        # Tools seen for the first time are pinned as listed; only changed ones differ.
        pinned=pinned_before or tool.fingerprint, changed=pinned_before is not None,
    )


def public_url(server: HttpServer) -> str:
    """The URL without its user information or the values of its query string,
    where tokens are sometimes put."""
    parts = urlsplit(server.url)
    netloc = parts.netloc.rpartition("@")[2]
    query = "&".join(f"{key}=***" for key, _ in parse_qsl(parts.query, keep_blank_values=True))
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))
