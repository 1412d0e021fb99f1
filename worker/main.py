"""Runs the worker, alone or with the API in the same process.

With the embedded graph only one process may write, so `serve` runs the API and
the worker together and shares one store between them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import uvicorn
from temporalio.client import Client

from api.app import create_app
from orchestrator.devserver import DevServer, keep_running, listening
from orchestrator.errors import InvalidInput, ServiceUnreachable
from orchestrator.graph.factory import check_store_settings
from orchestrator.settings import Settings
from orchestrator.stopping import stop_self
from worker.client import connect, ensure_search_attributes, worker_runtime
from worker.runtime import build_runtime, build_worker, started
from worker.settle import settling
from workflows import search_attributes as sa

log = logging.getLogger("orchestrator")


@contextlib.asynccontextmanager
async def temporal(settings: Settings) -> AsyncIterator[Settings]:
    """Start a local dev server unless an address is configured; yield settings that point at it."""
    if settings.temporal_address:
        yield settings
        return
    server = DevServer(
        settings.temporal_port, ui_port=settings.temporal_ui_port,
        db_file=settings.data_dir / "temporal.db", search_attributes=sa.DEFINITIONS,
        own_session=True,  # the CLI stops it on SIGINT, SIGTERM and SIGHUP
        namespaces=[settings.temporal_namespace],
    )
    await server.start()
    log.info("Temporal dev server on %s, Web UI on %s", server.address, settings.ui_url)
    # Killed under us, it is started again; one that keeps dying stops the command
    # as a SIGTERM would, cleanly.
    watch = asyncio.create_task(
        keep_running(server, lambda: stop_self("the Temporal dev server keeps exiting")),
        name="dev-server-watch",
    )
    try:
        yield settings.model_copy(update={"temporal_address": server.address})
    finally:
        watch.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watch
        await server.stop()


async def run_worker(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """The worker alone (more of these scale out on a shared task queue)."""
    check_store_settings(settings)
    if settings.graph_backend == "embedded":
        # Each process would keep a graph of its own: runs split between workers
        # would split between graphs, and learning and reuse with them.
        log.warning("the embedded graph at %s is this worker's alone: workers sharing task "
                    "queue %r need one graph (ORCHESTRATOR_GRAPH_BACKEND=neo4j)",
                    settings.graph_path, settings.task_queue)
    telemetry = worker_runtime(settings)
    # The graph and the MCP servers first: what cannot open (another process on the
    # embedded graph) is told before a dev server is started for nothing.
    runtime = await build_runtime(settings)
    try:
        async with temporal(settings) as settings:
            client = await connect(settings, telemetry=telemetry)
            await ensure_search_attributes(client)
            async with build_worker(client, runtime), settling(client, runtime.store):
                started()
                log.info("worker on task queue %r", settings.task_queue)
                _tell_metrics(settings)
                await (stop or asyncio.Event()).wait()
    finally:
        await runtime.close()


async def serve(
    settings: Settings,
    ready: Callable[[Settings, Client], Awaitable[None]] | None = None,
    *, with_worker: bool = True,
) -> None:
    """Worker and API in one process; `ready` runs once both are up. Without the
    worker, the API alone (`serve_api`)."""
    if listening(settings.api_port):  # found out before anything is started
        raise ServiceUnreachable(
            f"the API's port {settings.api_port} is taken: is another `orchestrator up` "
            "running? (--api-port picks another)"
        )
    check_store_settings(settings)
    telemetry = worker_runtime(settings)
    # As in `run_worker`: the graph is open before a dev server is started.
    runtime = await build_runtime(settings)
    try:
        async with temporal(settings) as settings:
            client = await connect(settings, telemetry=telemetry)
            await ensure_search_attributes(client)
            config = uvicorn.Config(
                create_app(settings, client, runtime.store, runtime.hub),
                host=settings.api_host, port=settings.api_port, log_level="warning",
                lifespan="on",
            )
            server = uvicorn.Server(config)
            worker = build_worker(client, runtime) if with_worker else contextlib.nullcontext()
            settle = (settling(client, runtime.store) if with_worker
                      else contextlib.nullcontext())
            async with worker, settle:
                api = asyncio.create_task(_api(server))
                try:
                    while not server.started:
                        if api.done():
                            await api
                            raise ServiceUnreachable(
                                f"the API did not start on {settings.api_port}")
                        await asyncio.sleep(0.05)
                    started()
                    log.info("API on http://%s:%d", settings.api_host, settings.api_port)
                    _tell_metrics(settings)
                    if ready is not None:
                        await ready(settings, client)
                    # Shielded: when the command is stopped, the API is asked to
                    # exit (below) and finishes its requests, instead of being cut off.
                    await asyncio.shield(api)
                finally:
                    server.should_exit = True
                    await asyncio.gather(api, return_exceptions=True)
    finally:
        await runtime.close()


async def serve_api(settings: Settings) -> None:
    """The API alone, the workers running elsewhere (`orchestrator worker`): so that
    the API is restarted or scaled without draining a worker. It shares their
    Temporal and their graph, which must be one all processes reach."""
    if not settings.temporal_address:
        raise InvalidInput("the API alone uses the workers' Temporal: set "
                           "ORCHESTRATOR_TEMPORAL_ADDRESS (`orchestrator up` runs all in one)")
    if settings.graph_backend == "embedded":
        raise InvalidInput("the API alone needs the graph the workers write, and the embedded "
                           "graph is one process's: set ORCHESTRATOR_GRAPH_BACKEND=neo4j "
                           "(`orchestrator up` runs all in one)")
    await serve(settings, with_worker=False)


def _tell_metrics(settings: Settings) -> None:
    if settings.metrics_port is not None:
        log.info("metrics on http://%s:%d/metrics", settings.metrics_host, settings.metrics_port)


async def _api(server: uvicorn.Server) -> None:
    """Serve the API. uvicorn says it could not start (a port taken after all, a
    host it cannot bind) with SystemExit, which an asyncio task re-raises into the
    event loop, skipping the cleanup of the worker and of the dev server: here it
    becomes an error like any other."""
    try:
        await server.serve()
    except SystemExit as exit_:
        raise ServiceUnreachable(
            f"the API could not start on {server.config.host}:{server.config.port} "
            f"(its error is above; exit code {exit_.code})"
        ) from None
