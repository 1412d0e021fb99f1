"""Opens the graph store the settings name."""

from __future__ import annotations

from orchestrator.errors import GraphStoreUnavailable
from orchestrator.graph.embedded import EmbeddedGraphStore
from orchestrator.graph.neo4j_store import Neo4jGraphStore, check_uri
from orchestrator.graph.store import GraphStore
from orchestrator.settings import Settings


def check_store_settings(settings: Settings) -> None:
    """What can be told wrong with the graph's settings without connecting: told
    before a dev server or anything else is started for a run that cannot work."""
    if settings.graph_backend == "embedded":
        return
    if settings.neo4j_password is None:
        raise GraphStoreUnavailable(
            "ORCHESTRATOR_GRAPH_BACKEND is neo4j but ORCHESTRATOR_NEO4J_PASSWORD is not set"
        )
    check_uri(settings.neo4j_uri)


def create_store(settings: Settings) -> GraphStore:
    """The configured store, not yet set up."""
    check_store_settings(settings)
    if settings.graph_backend == "embedded":
        return EmbeddedGraphStore(settings.graph_path)
    assert settings.neo4j_password is not None  # checked above
    return Neo4jGraphStore(
        settings.neo4j_uri, settings.neo4j_user, settings.neo4j_password.get_secret_value(),
        settings.neo4j_database, query_timeout_s=settings.neo4j_query_timeout_s,
    )


async def open_store(settings: Settings) -> GraphStore:
    """The configured store, set up: raises `GraphStoreUnavailable` naming what is wrong."""
    store = create_store(settings)
    await store.setup()
    return store
