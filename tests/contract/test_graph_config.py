"""Opening the configured graph store, and the one clear error a bad configuration gets."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import pytest
from pydantic import SecretStr

from orchestrator.devserver import DevServer, free_port
from orchestrator.errors import GraphStoreUnavailable
from orchestrator.graph.embedded import EmbeddedGraphStore
from orchestrator.graph.factory import open_store
from orchestrator.graph.neo4j_store import Neo4jGraphStore
from orchestrator.settings import Settings
from tests.neo4j_access import Neo4jAccess


def _settings(access: Neo4jAccess, tmp_path: Path, **changes: str) -> Settings:
    fields = {"uri": access.uri, "user": access.user, "password": access.password,
              "database": access.database, **changes}
    return Settings(
        data_dir=tmp_path, graph_backend="neo4j", neo4j_uri=fields["uri"],
        neo4j_user=fields["user"], neo4j_password=SecretStr(fields["password"]),
        neo4j_database=fields["database"],
    )


async def _refusal(settings: Settings) -> str:
    """The message of the error opening the store raises, which must come at once."""
    started = time.monotonic()
    with pytest.raises(GraphStoreUnavailable) as caught:
        await open_store(settings)
    assert time.monotonic() - started < 5, "no retries on a configuration error"
    return str(caught.value)


async def test_open_store_defaults_to_the_embedded_graph(tmp_path: Path) -> None:
    store = await open_store(Settings(data_dir=tmp_path))
    try:
        assert isinstance(store, EmbeddedGraphStore)
        assert (tmp_path / "graph.lbug").exists()
    finally:
        await store.close()


async def test_open_store_connects_to_neo4j(neo4j: Neo4jAccess, tmp_path: Path) -> None:
    store = await open_store(_settings(neo4j, tmp_path))
    try:
        assert isinstance(store, Neo4jGraphStore)
        await store.counts()
    finally:
        await store.close()


async def test_open_store_rejects_a_wrong_password(neo4j: Neo4jAccess, tmp_path: Path) -> None:
    message = await _refusal(_settings(neo4j, tmp_path, password="not-the-password"))
    assert message.startswith(f"Neo4j at {neo4j.uri} refused the credentials for user 'neo4j'")
    assert "not-the-password" not in message


async def test_open_store_rejects_an_unknown_user(neo4j: Neo4jAccess, tmp_path: Path) -> None:
    message = await _refusal(_settings(neo4j, tmp_path, user="nobody"))
    assert "refused the credentials for user 'nobody'" in message


@pytest.mark.parametrize("address", ["bolt://127.0.0.1:{port}", "neo4j://127.0.0.1:{port}",
                                     "bolt://no-such-host.invalid:7687"])
async def test_open_store_names_an_unreachable_address(
    neo4j: Neo4jAccess, tmp_path: Path, address: str
) -> None:
    uri = address.format(port=free_port())
    message = await _refusal(_settings(neo4j, tmp_path, uri=uri))
    assert message.startswith(f"cannot reach Neo4j at {uri}: ")
    assert "\n" not in message


async def test_open_store_names_a_missing_database(neo4j: Neo4jAccess, tmp_path: Path) -> None:
    message = await _refusal(_settings(neo4j, tmp_path, database="nosuchdb"))
    assert message == (f"Neo4j at {neo4j.uri} has no database 'nosuchdb': "
                       "check ORCHESTRATOR_NEO4J_DATABASE")


@pytest.mark.parametrize("uri", ["http://127.0.0.1:7474", "localhost:7687", "bolt://host:port"])
async def test_open_store_rejects_a_uri_that_is_not_neo4j(
    neo4j: Neo4jAccess, tmp_path: Path, uri: str
) -> None:
    message = await _refusal(_settings(neo4j, tmp_path, uri=uri))
    assert message.startswith(f"invalid Neo4j URI {uri!r}: ")


async def test_open_store_wants_a_neo4j_password(tmp_path: Path) -> None:
    message = await _refusal(Settings(data_dir=tmp_path, graph_backend="neo4j"))
    assert "ORCHESTRATOR_NEO4J_PASSWORD is not set" in message


@pytest.mark.parametrize(("setting", "value", "error"), [
    ("PASSWORD", "not-the-password", "Neo4j at {uri} refused the credentials for user 'neo4j': "
     "check ORCHESTRATOR_NEO4J_USER and ORCHESTRATOR_NEO4J_PASSWORD"),
    ("URI", "neo4j://127.0.0.1:{port}", "cannot reach Neo4j at {uri}: "
     "Unable to retrieve routing information: Couldn't connect to 127.0.0.1:{port}"),
], ids=["wrong-password", "unreachable"])
async def test_worker_with_a_bad_graph_setting_exits_with_one_line(
    temporal_server: DevServer, neo4j: Neo4jAccess, tmp_path: Path,
    setting: str, value: str, error: str,
) -> None:
    settings = {"URI": neo4j.uri, "USER": neo4j.user, "PASSWORD": neo4j.password,
                "DATABASE": neo4j.database}
    settings[setting] = value.format(port=free_port())
    env = {
        **os.environ,
        "ORCHESTRATOR_TEMPORAL_ADDRESS": temporal_server.address,
        "ORCHESTRATOR_DATA_DIR": str(tmp_path),
        "ORCHESTRATOR_GRAPH_BACKEND": "neo4j",
        **{f"ORCHESTRATOR_NEO4J_{name}": v for name, v in settings.items()},
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "orchestrator.cli", "worker", env=env,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 1, out.decode() + err.decode()
    uri = settings["URI"]
    expected = "orchestrator: " + error.format(uri=uri, port=uri.rsplit(":", 1)[-1])
    lines = err.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith(expected), err.decode()
