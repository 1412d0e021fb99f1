"""`orchestrator api`: the API alone, its workers in processes of their own, so that
either is restarted or scaled without the other."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from pathlib import Path

import httpx

from orchestrator.devserver import DevServer, free_port
from tests.command_line import run_cli
from tests.integration.test_worker_signals import _logged, _until_ready
from tests.neo4j_access import Neo4jAccess


async def test_the_api_alone_takes_requests_a_worker_elsewhere_runs(
    temporal_server: DevServer, neo4j: Neo4jAccess, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "ORCHESTRATOR_TEMPORAL_ADDRESS": temporal_server.address,
        "ORCHESTRATOR_TASK_QUEUE": f"alone-{uuid.uuid4()}",
        "ORCHESTRATOR_GRAPH_BACKEND": "neo4j", "ORCHESTRATOR_NEO4J_URI": neo4j.uri,
        "ORCHESTRATOR_NEO4J_USER": neo4j.user, "ORCHESTRATOR_NEO4J_PASSWORD": neo4j.password,
        "ORCHESTRATOR_NEO4J_DATABASE": neo4j.database,
    }
    port = free_port()
    worker = await _until_ready(["worker"], {**env, "ORCHESTRATOR_DATA_DIR": str(tmp_path / "w")},
                                tmp_path / "worker.log")
    api: asyncio.subprocess.Process | None = None
    try:
        api = await _until_ready(["api", "--api-port", str(port)],
                                 {**env, "ORCHESTRATOR_DATA_DIR": str(tmp_path / "a")},
                                 tmp_path / "api.log")
        app = f"alone{uuid.uuid4().hex[:8]}"
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            reply = await http.post("/v3/ai/chat", json={
                "message": f"create application {app} with cart service", "wait": True})
            assert reply.status_code == 200, reply.text
            assert reply.json()["status"] == "completed", reply.text
            graph = await http.get(f"/v1/graph/entities/application/{app}/impact")
            assert graph.status_code == 200, graph.text
        # Stopped alone: the worker goes on.
        api.send_signal(signal.SIGTERM)
        assert await api.wait() == 143, _logged(tmp_path / "api.log")[-3000:]
        assert worker.returncode is None
    finally:  # the worker too when the API never came up
        for process in (api, worker):
            if process is not None and process.returncode is None:
                process.kill()
                await process.wait()
    # The API process ran no worker.
    assert "worker on task queue" not in _logged(tmp_path / "api.log")


async def test_the_api_alone_is_refused_what_only_one_process_could_have(
    temporal_server: DevServer, tmp_path: Path
) -> None:
    env = {**os.environ, "ORCHESTRATOR_DATA_DIR": str(tmp_path)}
    env.pop("ORCHESTRATOR_TEMPORAL_ADDRESS", None)
    code, out = await run_cli("api", env=env)
    assert code == 1 and "the API alone uses the workers' Temporal: set " in out, out
    code, out = await run_cli("api", env={**env, "ORCHESTRATOR_TEMPORAL_ADDRESS":
                                          temporal_server.address})
    assert code == 1 and "the embedded graph is one process's" in out, out
