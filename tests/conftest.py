"""Shared fixtures: one real Temporal dev server per test session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.client import Client

from orchestrator.devserver import DevServer, free_port
from orchestrator.graph.embedded import EmbeddedGraphStore
from orchestrator.settings import Settings
from worker.client import connect


@pytest.fixture(scope="session")
async def temporal_server() -> AsyncIterator[DevServer]:
    server = DevServer(free_port())
    await server.start()
    yield server
    await server.stop()


@pytest.fixture(scope="session")
async def client(temporal_server: DevServer) -> Client:
    return await connect(Settings(temporal_address=temporal_server.address))


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[EmbeddedGraphStore]:
    graph = EmbeddedGraphStore(tmp_path / "graph.lbug")
    await graph.setup()
    yield graph
    await graph.close()
