"""A Temporal namespace other than "default": the dev server `up` starts makes it,
and one that a configured server lacks is named in one line."""

from __future__ import annotations

import os
from pathlib import Path

from orchestrator.devserver import DevServer, free_port
from orchestrator.models import RunResult, RunStatus
from orchestrator.settings import Settings
from tests.command_line import run_cli
from tests.integration.stack import running_stack
from worker.client import connect, ensure_search_attributes
from workflows import search_attributes as sa


async def test_runs_go_in_the_namespace_the_dev_server_was_made_with(tmp_path: Path) -> None:
    server = DevServer(free_port(), search_attributes=sa.DEFINITIONS, namespaces=["qa"])
    await server.start()
    try:
        client = await connect(Settings(temporal_address=server.address,
                                        temporal_namespace="qa"))
        await ensure_search_attributes(client)
        async with running_stack(client, server.address, tmp_path,
                                 temporal_namespace="qa") as s:
            reply = await s.http.post("/v3/ai/chat", json={
                "message": "create application shop", "wait": True})
        assert reply.status_code == 200, reply.text
        assert RunResult.model_validate(reply.json()["result"]).status == RunStatus.COMPLETED
        assert "/namespaces/qa/" in reply.json()["web_ui_url"]
    finally:
        await server.stop()


async def test_a_namespace_the_server_lacks_is_named(
    temporal_server: DevServer, tmp_path: Path
) -> None:
    env = {**os.environ, "ORCHESTRATOR_DATA_DIR": str(tmp_path / "data"),
           "ORCHESTRATOR_TEMPORAL_ADDRESS": temporal_server.address,
           "ORCHESTRATOR_TEMPORAL_NAMESPACE": "nope"}
    code, out = await run_cli("worker", env=env)
    assert code == 1 and "Traceback" not in out, out
    assert f"the Temporal server at {temporal_server.address} has no namespace 'nope'" in out
    assert "temporal operator namespace create --namespace nope" in out
