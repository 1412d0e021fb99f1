"""A worker and the API on the session's dev server, each test on its own task queue."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client

from api.app import create_app
from orchestrator.settings import Settings
from worker.runtime import Runtime, build_runtime, build_worker

S1 = (
    "Create application ecommerce with payment service, deploy to production "
    "with monitoring and security policies"
)


@dataclass
class Stack:
    settings: Settings
    client: Client
    runtime: Runtime
    http: httpx.AsyncClient


@contextlib.asynccontextmanager
async def running_stack(
    client: Client, address: str, data_dir: Path, **overrides: Any
) -> AsyncIterator[Stack]:
    settings = Settings(
        temporal_address=address, data_dir=data_dir, task_queue=f"test-{uuid.uuid4()}",
        **overrides,
    )
    runtime = await build_runtime(settings)
    app = create_app(settings, client)
    transport = httpx.ASGITransport(app=app)
    try:
        async with (
            build_worker(client, runtime),
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://api", timeout=60) as http,
        ):
            yield Stack(settings, client, runtime, http)
    finally:
        await runtime.close()
