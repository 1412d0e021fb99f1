"""`/v1/mcp/servers`: the MCP servers whose tools the orchestrator uses.

Reading is open, and so is adding a streamable HTTP server. Whatever runs a
command on this host (a stdio server), removes a server, switches approvals
off, or approves a changed tool needs the MCP admin token.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, HTTPException, Response
from pydantic import BaseModel, ConfigDict

from api.deps import McpAdminDep, SettingsDep, StoreDep
from api.errors import described
from orchestrator.graph.store import McpServerRecord
from orchestrator.mcp import (
    McpApprovalConflict,
    McpConfigError,
    McpServerExists,
    McpServerUnavailable,
    McpUnknownTool,
    StdioServer,
    parse_server,
)
from orchestrator.mcp.admin import McpAdmin, weakened_approvals
from orchestrator.mcp.views import (
    ServerDetail,
    ServerView,
    ToolView,
    list_unlisted,
    server_detail,
    server_view,
)

router = APIRouter(prefix="/v1/mcp/servers", tags=["mcp"])

_NEW_SERVER = {
    "stdio": {"summary": "A stdio server (admin only)", "value": {
        "name": "github", "command": "uvx", "args": ["mcp-server-git"],
        "env": {"GITHUB_TOKEN": "..."}}},
    "http": {"summary": "A streamable HTTP server", "value": {
        "name": "cloud", "url": "https://mcp.example.com/mcp",
        "headers": {"Authorization": "Bearer ..."},
        "orchestrator": {"timeout_ms": 60000,
                         "tools": {"deploy": {"produces": ["deployment"]}}}}},
}


class Caller:
    """Who is calling: an admin, or why not."""

    def __init__(self, admin: bool, why_not: str = "") -> None:
        self.admin = admin
        self.why_not = why_not

    def require_admin(self, action: str) -> None:
        if not self.admin:
            raise HTTPException(403, f"{action} needs the MCP admin token: {self.why_not}")


def _caller(
    settings: SettingsDep, authorization: Annotated[str | None, Header()] = None
) -> Caller:
    token = settings.mcp_admin_token
    if token is None:
        return Caller(False, "none is configured (ORCHESTRATOR_MCP_ADMIN_TOKEN)")
    scheme, _, presented = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        return Caller(False, "send it as 'Authorization: Bearer <token>'")
    if not secrets.compare_digest(presented.strip().encode(), token.get_secret_value().encode()):
        return Caller(False, "the token presented is not it")
    return Caller(True)


CallerDep = Annotated[Caller, Depends(_caller)]


class Approval(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The fingerprint shown by `GET /v1/mcp/servers/{name}`: approve only that definition.
    fingerprint: str | None = None


@router.get("", response_model=list[ServerView])
async def list_servers(admin: McpAdminDep, refresh: bool = False) -> list[ServerView]:
    """Every configured server: how it runs, its status, tool count and changed tools."""
    await list_unlisted(admin.hub, again=refresh)
    return [server_view(admin.hub, name) for name in sorted(admin.hub.config.servers)]


@router.get("/{name}", response_model=ServerDetail, responses=described(404))
async def get_server(name: str, admin: McpAdminDep, refresh: bool = False) -> ServerDetail:
    """One server with its tools: capability, annotations, fingerprints, changed or not."""
    _known(admin, name)
    await list_unlisted(admin.hub, [name], again=refresh)
    return server_detail(admin.hub, name)


@router.get("/{name}/graph", response_model=McpServerRecord, responses=described(404))
async def get_server_graph(name: str, store: StoreDep) -> McpServerRecord:
    """The server as the graph holds it: its agent and the tools it exposes, each
    with the capability it implements."""
    for server in await store.mcp_servers():
        if server.name == name:
            return server
    raise HTTPException(404, f"no MCP server named {name!r} in the graph")


@router.post("", response_model=ServerDetail, status_code=201,
             responses=described(403, 409, 502))
async def add_server(
    admin: McpAdminDep, caller: CallerDep,
    body: Annotated[dict[str, Any], Body(openapi_examples=_NEW_SERVER)],
) -> ServerDetail:
    """Add a server: `name` plus a desktop-client `mcpServers` entry (with our
    `orchestrator` options). Its tools are listed before it is saved."""
    entry = dict(body)
    name = entry.pop("name", None)
    if not isinstance(name, str):
        raise HTTPException(422, "name: required, a string")
    with _answers():
        # Read first (nothing runs): a malformed entry is told as such, to anyone.
        server = parse_server(entry)
        if isinstance(server, StdioServer):
            caller.require_admin("registering a stdio server (a command run on this host)")
        if weakened := weakened_approvals(server):
            caller.require_admin(f"switching approvals off ({', '.join(weakened)})")
        await admin.add(name, server)
    return server_detail(admin.hub, name)


@router.delete("/{name}", status_code=204, responses=described(403, 404))
async def remove_server(name: str, admin: McpAdminDep, caller: CallerDep) -> Response:
    """Remove a server: its session closes, its tools and pins go."""
    caller.require_admin("removing an MCP server")
    with _answers():
        await admin.remove(name)
    return Response(status_code=204)


@router.post("/{name}/tools/{tool}/approve", response_model=ToolView,
             responses=described(403, 404, 409, 502))
async def approve_tool(
    name: str, tool: str, admin: McpAdminDep, caller: CallerDep,
    approval: Approval | None = None,
) -> ToolView:
    """Approve the current definition of a tool that changed since it was approved."""
    caller.require_admin("approving a changed tool")
    _known(admin, name)
    with _answers():
        await admin.approve(name, tool, (approval or Approval()).fingerprint)
    [view] = [t for t in server_detail(admin.hub, name).tools if t.name == tool]
    return view


def _known(admin: McpAdmin, name: str) -> None:
    if name not in admin.hub.config.servers:
        raise HTTPException(404, f"no MCP server named {name!r} is configured")


@contextlib.contextmanager
def _answers() -> Iterator[None]:
    """The admin's refusals as HTTP answers, with their reasons."""
    try:
        yield
    except McpUnknownTool as error:
        raise HTTPException(404, str(error)) from error
    except (McpServerExists, McpApprovalConflict) as error:
        raise HTTPException(409, str(error)) from error
    except McpConfigError as error:
        raise HTTPException(422, str(error)) from error
    except McpServerUnavailable as error:
        raise HTTPException(502, str(error)) from error
