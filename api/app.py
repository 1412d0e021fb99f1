"""The FastAPI application; the Temporal client lives in its lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from temporalio.client import Client

from api.routers import chat, health, workflows
from orchestrator.settings import Settings
from worker.client import connect


def create_app(settings: Settings, client: Client | None = None) -> FastAPI:
    """Build the app; pass `client` to share one that already exists."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.temporal = client or await connect(settings)
        yield

    app = FastAPI(title="Orchestrator", version="0.1.0", lifespan=lifespan)
    for module in (chat, workflows, health):
        app.include_router(module.router)
    return app
