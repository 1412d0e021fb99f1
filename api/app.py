"""The FastAPI application; the Temporal client and the graph store live in its lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from temporalio.client import Client
from temporalio.service import RPCError

from api.errors import RunRefused, run_refused
from api.routers import agents, chat, graph, health, mcp, workflows
from api.run_state import UNREACHABLE
from api.validation import invalid_request
from orchestrator.errors import GraphStoreUnavailable
from orchestrator.graph.factory import open_store
from orchestrator.graph.store import GraphStore
from orchestrator.mcp import McpHub
from orchestrator.mcp.admin import McpAdmin
from orchestrator.settings import Settings
from worker.client import connect


async def graph_unavailable(request: Request, error: Exception) -> JSONResponse:
    """The graph is down or not answering: the service is unavailable, the request
    may be sent again."""
    return JSONResponse(status_code=503, content={"detail": str(error)})


async def temporal_unavailable(request: Request, error: Exception) -> JSONResponse:
    """Temporal does not answer (its server stopped or restarting): the service is
    unavailable, the request may be sent again. Other refusals stay errors."""
    if not isinstance(error, RPCError) or error.status not in UNREACHABLE:
        raise error
    settings: Settings = request.app.state.settings
    return JSONResponse(status_code=503, content={
        "detail": f"Temporal at {settings.temporal_address or 'its address'} does not "
                  f"answer ({error.message}): try again shortly",
    })


def create_app(
    settings: Settings, client: Client | None = None, store: GraphStore | None = None,
    hub: McpHub | None = None,
) -> FastAPI:
    """Build the app; pass `client` and `store` to share ones that already exist (the
    embedded graph allows one process, so the API must share the worker's store)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.temporal = client or await connect(settings)
        app.state.store = store or await open_store(settings)
        # The worker's hub when given, so servers added here serve its steps at once.
        app.state.mcp_hub = hub or McpHub.from_settings(settings)
        app.state.mcp_admin = McpAdmin(app.state.mcp_hub, settings.mcp_config_path)
        try:
            yield
        finally:
            if store is None:
                await app.state.store.close()
            if hub is None:
                await app.state.mcp_hub.close()

    app = FastAPI(title="Orchestrator", version="0.1.0", lifespan=lifespan)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(GraphStoreUnavailable, graph_unavailable)
    app.add_exception_handler(RPCError, temporal_unavailable)
    app.add_exception_handler(RunRefused, run_refused)
    for module in (chat, workflows, graph, agents, mcp, health):
        app.include_router(module.router)
    return app
