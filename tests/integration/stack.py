"""A worker and the API on the session's dev server, each test on its own task queue."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from temporalio.client import Client

from api.app import create_app
from orchestrator.graph.embedded import EmbeddedGraphStore
from orchestrator.graph.store import GraphStore
from orchestrator.models import RunResult
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
    # A test may bring a stack back on the task queue of one it stopped.
    settings = Settings(**{"task_queue": f"test-{uuid.uuid4()}", **overrides},
                        temporal_address=address, data_dir=data_dir)
    runtime = await build_runtime(settings)
    app = create_app(settings, client, runtime.store, runtime.hub)
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


@contextlib.asynccontextmanager
async def served(stack: Stack, port: int) -> AsyncIterator[str]:
    """The stack's API on a real port, for the command line run in a process of its
    own; yields its address. The worker, the graph and the hub stay the stack's."""
    app = create_app(stack.settings, stack.client, stack.runtime.store, stack.runtime.hub)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    serving = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(15):
            while not server.started:
                if serving.done():
                    await serving
                    raise AssertionError(f"the API did not start on {port}")
                await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serving


@contextlib.asynccontextmanager
async def mcp_stack(
    client: Client, address: str, tmp_path: Path, servers: dict[str, Any], **overrides: Any
) -> AsyncIterator[Stack]:
    """`running_stack` serving these `mcpServers` (written to `tmp_path/mcp.json`)."""
    config = tmp_path / "mcp.json"
    config.write_text(json.dumps({"mcpServers": servers}))
    async with running_stack(client, address, tmp_path / "data", mcp_config=config,
                             **overrides) as stack:
        yield stack


async def run_waited(stack: Stack, message: str) -> RunResult:
    """Send the request, wait for its run to end, and return its result."""
    reply = await stack.http.post("/v3/ai/chat", json={"message": message, "wait": True})
    assert reply.status_code == 200, reply.text
    return RunResult.model_validate(reply.json()["result"])


async def state_of(http: httpx.AsyncClient, workflow_id: str) -> RunResult:
    reply = await http.get(f"/v1/workflows/{workflow_id}")
    assert reply.status_code == 200, reply.text
    return RunResult.model_validate(reply.json())


async def wait_until(
    http: httpx.AsyncClient, workflow_id: str, check: Callable[[RunResult], bool],
    timeout_s: float = 30.0,
) -> RunResult:
    """Poll the run's status query until `check` holds."""
    async with asyncio.timeout(timeout_s):
        while True:
            state = await state_of(http, workflow_id)
            if check(state):
                return state
            await asyncio.sleep(0.1)


async def start(http: httpx.AsyncClient, message: str, **options: Any) -> str:
    reply = await http.post("/v3/ai/chat", json={"message": message, **options})
    assert reply.status_code == 200, reply.text
    workflow_id: str = reply.json()["workflow_id"]
    return workflow_id


async def result_of(client: Client, workflow_id: str) -> RunResult:
    handle = client.get_workflow_handle(workflow_id, result_type=RunResult)
    result: RunResult = await handle.result()
    return result


async def graph_shows(store: GraphStore, wf: str, status: str, **steps: str) -> None:
    """Wait until the graph shows the run, and these steps, in these states."""
    seen = None
    try:
        async with asyncio.timeout(15):
            while True:
                run = await store.run_graph(wf)
                seen = (run.status, {i: run.steps.get(i, {}).get("status") for i in steps})
                if seen == (status, steps):
                    return
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"the graph shows {seen}, not {(status, steps)}") from None


@contextlib.asynccontextmanager
async def api_only(settings: Settings, client: Client, graph: Path
                   ) -> AsyncIterator[httpx.AsyncClient]:
    """The API alone, on an embedded graph of its own at `graph` (the workers, in
    processes of their own, hold the runs' graph)."""
    store = EmbeddedGraphStore(graph)
    await store.setup()
    app = create_app(settings, client, store)
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api",
                              timeout=60) as http,
        ):
            yield http
    finally:
        await store.close()
