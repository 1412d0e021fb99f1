"""Shared fixtures: one real Temporal dev server and one real Neo4j per test session."""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from temporalio.client import Client

from orchestrator.devserver import DevServer, free_port
from orchestrator.graph.embedded import EmbeddedGraphStore
from orchestrator.graph.neo4j_server import Neo4jServer
from orchestrator.settings import Settings
from tests.neo4j_access import Neo4jAccess
from worker.client import connect
from workflows import search_attributes as sa


@pytest.fixture(scope="session")
async def temporal_server() -> AsyncIterator[DevServer]:
    server = DevServer(free_port(), search_attributes=sa.DEFINITIONS)
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


@pytest.fixture(scope="session")
async def neo4j(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Neo4jAccess]:
    """The Neo4j at NEO4J_URI if given (the tests empty its database), else one started
    from the project's launcher. A Neo4j that cannot start fails the tests: never skipped."""
    if uri := os.environ.get("NEO4J_URI"):
        password = os.environ.get("NEO4J_PASSWORD")
        if not password:
            pytest.fail("NEO4J_URI is set but NEO4J_PASSWORD is not")
        yield Neo4jAccess(uri, os.environ.get("NEO4J_USER", "neo4j"), password,
                          os.environ.get("NEO4J_DATABASE", "neo4j"))
        return
    server = Neo4jServer(free_port(), tmp_path_factory.mktemp("neo4j"), secrets.token_urlsafe(16))
    await server.start()
    yield Neo4jAccess(server.uri, server.user, server.password)
    await server.stop()


@pytest.fixture
def logger_levels() -> Iterator[None]:
    """`main` sets up logging for the process, as a command may: put it back, so
    tests after this one still see what loggers say."""
    levels = {logger: logger.level for logger in _loggers()}
    handlers = list(logging.root.handlers)
    yield
    logging.root.handlers[:] = handlers
    for logger in _loggers():  # loggers made meanwhile included
        logger.setLevel(levels.get(logger, logging.NOTSET))


def _loggers() -> list[logging.Logger]:
    known = logging.root.manager.loggerDict.values()
    return [logging.root, *(x for x in known if isinstance(x, logging.Logger))]
