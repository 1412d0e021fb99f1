"""Every contract test runs once per graph backend, each on an empty graph."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from neo4j import AsyncGraphDatabase

from orchestrator.graph.embedded import EmbeddedGraphStore
from orchestrator.graph.neo4j_store import Neo4jGraphStore
from orchestrator.graph.store import GraphStore
from tests.neo4j_access import Neo4jAccess

# Not in the store's queries: no code of the orchestrator ever empties a graph.
DELETE_EVERYTHING = "MATCH (n) DETACH DELETE n"


@dataclass(frozen=True)
class Backend:
    name: str
    # A new store over the same graph each time, so tests can reopen it.
    new_store: Callable[[], GraphStore]
    empty: Callable[[], Awaitable[None]]


async def _nothing() -> None:
    return None


def _empty_neo4j(access: Neo4jAccess) -> Callable[[], Awaitable[None]]:
    async def empty() -> None:
        auth = (access.user, access.password)
        async with AsyncGraphDatabase.driver(access.uri, auth=auth) as driver:
            await driver.execute_query(DELETE_EVERYTHING, database_=access.database)

    return empty


@pytest.fixture(params=["embedded", "neo4j"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "embedded":
        # A fresh directory per test is already an empty graph.
        return Backend("embedded", lambda: EmbeddedGraphStore(tmp_path / "graph.lbug"), _nothing)
    # Looked up here rather than requested, so embedded-only runs start no Neo4j.
    access: Neo4jAccess = request.getfixturevalue("neo4j")
    return Backend(
        "neo4j",
        lambda: Neo4jGraphStore(access.uri, access.user, access.password, access.database),
        _empty_neo4j(access),
    )


@pytest.fixture
async def graph(backend: Backend) -> AsyncIterator[GraphStore]:
    await backend.empty()
    store = backend.new_store()
    await store.setup()
    yield store
    await store.close()
