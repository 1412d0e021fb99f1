"""Dependencies shared by the routers, as `Annotated` aliases."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Path, Request
from temporalio.client import Client

from orchestrator.graph.store import GraphStore
from orchestrator.mcp import McpHub
from orchestrator.mcp.admin import McpAdmin
from orchestrator.settings import Settings


def _client(request: Request) -> Client:
    return cast(Client, request.app.state.temporal)


def _settings(request: Request) -> Settings:
    return cast(Settings, request.app.state.settings)


def _store(request: Request) -> GraphStore:
    return cast(GraphStore, request.app.state.store)


def _mcp_hub(request: Request) -> McpHub:
    return cast(McpHub, request.app.state.mcp_hub)


def _mcp_admin(request: Request) -> McpAdmin:
    return cast(McpAdmin, request.app.state.mcp_admin)


TemporalClientDep = Annotated[Client, Depends(_client)]
SettingsDep = Annotated[Settings, Depends(_settings)]
StoreDep = Annotated[GraphStore, Depends(_store)]
McpHubDep = Annotated[McpHub, Depends(_mcp_hub)]
# Changes to the MCP servers, made to the config file and to the hub together.
McpAdminDep = Annotated[McpAdmin, Depends(_mcp_admin)]

# A run's id in a path: every route takes the same (Temporal allows far more, but no
# run here is named past it; a longer id is refused, not echoed back in a 404).
WorkflowId = Annotated[str, Path(min_length=1, max_length=200)]
