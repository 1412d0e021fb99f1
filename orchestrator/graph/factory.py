"""Opens the graph store the settings name."""

from __future__ import annotations

from orchestrator.errors import GraphStoreUnavailable
from orchestrator.graph.embedded import EmbeddedGraphStore
from orchestrator.graph.neo4j_store import Neo4jGraphStore
from orchestrator.graph.store import GraphStore
from orchestrator.settings import Settings


def create_store(settings: Settings) -> GraphStore:
    """The configured store, not yet set up."""
    if settings.graph_backend == "embedded":
        return EmbeddedGraphStore(settings.graph_path)
    if settings.neo4j_password is None:
        raise GraphStoreUnavailable(
            "ORCHESTRATOR_GRAPH_BACKEND is neo4j but ORCHESTRATOR_NEO4J_PASSWORD is not set"
        )
    return Neo4jGraphStore(
        settings.neo4j_uri, settings.neo4j_user, settings.neo4j_password.get_secret_value(),
        settings.neo4j_database,
    )


async def open_store(settings: Settings) -> GraphStore:
    """The configured store, set up: raises `GraphStoreUnavailable` naming what is wrong."""
    store = create_store(settings)
    await store.setup()
    return store
