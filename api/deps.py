"""Dependencies shared by the routers, as `Annotated` aliases."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, cast

from fastapi import Depends, Path, Request
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from orchestrator.graph.store import GraphStore
from orchestrator.mcp import McpHub
from orchestrator.mcp.admin import McpAdmin
from orchestrator.settings import Settings

HEALTH_TIMEOUT = timedelta(seconds=2)


def _client(request: Request) -> Client:
    return cast(Client, request.app.state.temporal)


async def _answering_client(request: Request) -> Client:
    """The Temporal client, once its server is known to answer. A call to a server
    that is down is retried by the client for seconds (a chat request waited ~19 s
    for its 503); the health check fails at once, and the 503 says so (app.py)."""
    client = _client(request)
    try:
        serving = await client.service_client.check_health(timeout=HEALTH_TIMEOUT)
    except RPCError as err:
        # Whatever the status ("transport error" while its server restarts): down.
        raise RPCError(err.message, RPCStatusCode.UNAVAILABLE, b"") from err
    if not serving:
        raise RPCError("the frontend does not serve", RPCStatusCode.UNAVAILABLE, b"")
    return client


def _settings(request: Request) -> Settings:
    return cast(Settings, request.app.state.settings)


def _store(request: Request) -> GraphStore:
    return cast(GraphStore, request.app.state.store)


def _mcp_hub(request: Request) -> McpHub:
    return cast(McpHub, request.app.state.mcp_hub)


def _mcp_admin(request: Request) -> McpAdmin:
    return cast(McpAdmin, request.app.state.mcp_admin)


TemporalClientDep = Annotated[Client, Depends(_answering_client)]
SettingsDep = Annotated[Settings, Depends(_settings)]
StoreDep = Annotated[GraphStore, Depends(_store)]
McpHubDep = Annotated[McpHub, Depends(_mcp_hub)]
# Changes to the MCP servers, made to the config file and to the hub together.
McpAdminDep = Annotated[McpAdmin, Depends(_mcp_admin)]

# A run's id in a path: every route takes the same (Temporal allows far more, but no
# run here is named past it; a longer id is refused, not echoed back in a 404).
WorkflowId = Annotated[str, Path(min_length=1, max_length=200)]
