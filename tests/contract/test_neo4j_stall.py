"""A Neo4j that stops answering (a paused JVM, a network that drops packets) is told
as unavailable within the store's query timeout, instead of holding every caller
forever, and the store recovers once it answers again."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from pydantic import SecretStr
from temporalio.client import Client

from api.app import create_app
from orchestrator.devserver import DevServer, free_port
from orchestrator.errors import GraphStoreUnavailable
from orchestrator.graph.neo4j_store import Neo4jGraphStore
from orchestrator.models import EntityRef
from orchestrator.settings import Settings
from tests.integration.stack import running_stack
from tests.neo4j_access import Neo4jAccess

APP = EntityRef(kind="application", name="stalled")


class FreezableProxy:
    """A TCP proxy to Neo4j that can stop passing bytes on, as a stalled server would."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()
        self.port = free_port()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    def freeze(self) -> None:
        self._flowing.clear()

    def thaw(self) -> None:
        self._flowing.set()

    async def close(self) -> None:
        for task in self._pipes:
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter
                     ) -> None:
        server_r, server_w = await asyncio.open_connection(*self._target)
        for reader, writer in ((client_r, server_w), (server_r, client_w)):
            task = asyncio.create_task(self._pipe(reader, writer))
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            try:
                while data := await reader.read(65536):
                    await self._flowing.wait()
                    writer.write(data)
                    await writer.drain()
            finally:
                writer.close()


async def _proxy_to(neo4j: Neo4jAccess) -> FreezableProxy:
    """A started proxy to the test's Neo4j."""
    target = urlsplit(neo4j.uri)
    if target.hostname is None or target.port is None:
        pytest.fail(f"cannot proxy {neo4j.uri}")
    proxy = FreezableProxy(target.hostname, target.port)
    await proxy.start()
    return proxy


def _store_through(proxy: FreezableProxy, neo4j: Neo4jAccess, **options: float
                   ) -> Neo4jGraphStore:
    return Neo4jGraphStore(f"bolt://127.0.0.1:{proxy.port}", neo4j.user, neo4j.password,
                           neo4j.database, **options)


async def test_a_stalled_neo4j_is_told_within_the_query_timeout(neo4j: Neo4jAccess) -> None:
    proxy = await _proxy_to(neo4j)
    store = _store_through(proxy, neo4j, query_timeout_s=2.0)
    try:
        await store.setup()
        assert await store.get_entity(APP) is None
        proxy.freeze()
        started = time.monotonic()
        with pytest.raises(GraphStoreUnavailable, match="did not answer within 2 s"):
            await store.get_entity(APP)
        with pytest.raises(GraphStoreUnavailable, match="did not answer within 2 s"):
            await store.claim_entity(APP, "wf/app", {})
        assert time.monotonic() - started < 10
        proxy.thaw()
        record = await store.claim_entity(APP, "wf/app", {})
        assert record.created_by == "wf/app"
        assert (await store.release_entity(APP, "wf/app")).deleted
    finally:
        proxy.thaw()
        await store.close()
        await proxy.close()


async def test_a_neo4j_that_refuses_connections_is_told_unavailable_within_seconds(
    neo4j: Neo4jAccess,
) -> None:
    proxy = await _proxy_to(neo4j)
    store = _store_through(proxy, neo4j)  # the default query timeout: 30 s
    try:
        await store.setup()
        assert await store.get_entity(APP) is None
        await proxy.close()  # nothing listens there now: as a stopped Neo4j
        started = time.monotonic()
        with pytest.raises(GraphStoreUnavailable, match="cannot reach Neo4j"):
            await store.get_entity(APP)
        assert time.monotonic() - started < 10
    finally:
        await store.close()
        await proxy.close()


async def test_the_api_answers_503_while_the_graph_does_not_answer(
    neo4j: Neo4jAccess, client: Client, tmp_path: Path
) -> None:
    proxy = await _proxy_to(neo4j)
    store = _store_through(proxy, neo4j, query_timeout_s=2.0)
    await store.setup()
    app = create_app(Settings(data_dir=tmp_path), client, store)
    try:
        async with (app.router.lifespan_context(app),
                    httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                      base_url="http://api") as http):
            proxy.freeze()
            reply = await http.get("/v1/graph/entities/application/stalled")
            proxy.thaw()
            assert reply.status_code == 503, reply.text
            assert "did not answer within 2 s" in reply.json()["detail"]
            assert (await http.get("/v1/graph/entities/application/stalled")).status_code == 404
    finally:
        proxy.thaw()
        await store.close()
        await proxy.close()


async def test_a_request_that_cannot_be_planned_while_the_graph_stalls_is_a_503(
    neo4j: Neo4jAccess, client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    proxy = await _proxy_to(neo4j)
    try:
        async with running_stack(
            client, temporal_server.address, tmp_path, graph_backend="neo4j",
            neo4j_uri=f"bolt://127.0.0.1:{proxy.port}", neo4j_user=neo4j.user,
            neo4j_password=SecretStr(neo4j.password), neo4j_database=neo4j.database,
            neo4j_query_timeout_s=2.0,
        ) as s:
            proxy.freeze()
            reply = await s.http.post("/v3/ai/chat", json={
                "message": "create application stalled with payment service"})
            proxy.thaw()
            again = await s.http.post("/v3/ai/chat", json={
                "message": "create application stalled with payment service", "wait": True})
    finally:
        proxy.thaw()
        await proxy.close()
    # Not the request's fault: a 503 saying what did not answer, and to send it again;
    # told before a run started (the graph is asked first), so nothing is left failed.
    assert reply.status_code == 503, reply.text
    told = reply.json()
    assert "did not answer within 2 s" in told["detail"]
    assert told["detail"].endswith("send the request again once it answers")
    assert "workflow_id" not in told
    assert again.status_code == 200, again.text
    assert again.json()["result"]["status"] == "completed"
