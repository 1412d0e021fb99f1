"""A Neo4j restarted under a running store, with other credentials: its calls are
told unavailable naming the credentials (an API answers 503), not raised as the
driver's own error (a 500)."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from orchestrator.devserver import free_port
from orchestrator.errors import GraphStoreUnavailable
from orchestrator.graph.neo4j_server import Neo4jServer
from orchestrator.graph.neo4j_store import Neo4jGraphStore
from orchestrator.models import EntityRef


async def test_a_restart_with_other_credentials_is_told_as_unavailable(tmp_path: Path) -> None:
    first = Neo4jServer(free_port(), tmp_path / "neo4j", secrets.token_urlsafe(16))
    await first.start()
    store = Neo4jGraphStore(first.uri, first.user, first.password, "neo4j",
                            query_timeout_s=20.0)
    try:
        await store.setup()
        await first.stop()
        again = Neo4jServer(first.port, tmp_path / "neo4j", secrets.token_urlsafe(16))
        await again.start()
        try:
            with pytest.raises(GraphStoreUnavailable, match="refused the credentials"):
                await store.get_entity(EntityRef(kind="application", name="shop"))
        finally:
            await again.stop()
    finally:
        await store.close()
        await first.stop()
