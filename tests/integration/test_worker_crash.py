"""kill -9 of the worker in the middle of a run: a new worker finishes it, and
every entity is created exactly once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import uuid
from pathlib import Path

from temporalio.client import Client

from orchestrator.devserver import DevServer
from orchestrator.graph.embedded import EmbeddedGraphStore
from orchestrator.models import OrchestrationRequest, RunStatus, StepStatus
from tests.integration.stack import S1
from workflows.orchestration import OrchestrationWorkflow

DEPLOY = "deploy-deployment-ecommerce-production"


async def _start_worker(env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "orchestrator.cli", "worker", env=env,
        stdin=asyncio.subprocess.DEVNULL, stdout=log.open("ab"), stderr=asyncio.subprocess.STDOUT,
    )


async def killed_and_restarted(
    worker: asyncio.subprocess.Process, env: dict[str, str], log: Path
) -> asyncio.subprocess.Process:
    """kill -9 of `worker`, then a new one on the same settings."""
    worker.send_signal(signal.SIGKILL)
    await worker.wait()
    return await _start_worker(env, log)


async def stopped(worker: asyncio.subprocess.Process) -> None:
    """SIGINT, and the worker's clean stop waited for."""
    worker.send_signal(signal.SIGINT)
    async with asyncio.timeout(20):
        await worker.wait()


async def test_worker_killed_mid_run_completes_once(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    task_queue = f"crash-{uuid.uuid4()}"
    env = {
        **os.environ,
        "ORCHESTRATOR_TEMPORAL_ADDRESS": temporal_server.address,
        "ORCHESTRATOR_TASK_QUEUE": task_queue,
        "ORCHESTRATOR_DATA_DIR": str(tmp_path),
        # The deployment is slow on purpose, so the kill lands while it runs.
        "ORCHESTRATOR_AGENT_FAULTS": json.dumps({"deployment.create": {"delay_ms": 3000}}),
    }
    log = tmp_path / "worker.log"
    worker = await _start_worker(env, log)
    handle = await client.start_workflow(
        OrchestrationWorkflow.run, OrchestrationRequest(message=S1),
        id=f"crash-{uuid.uuid4()}", task_queue=task_queue,
    )
    try:
        async with asyncio.timeout(30):
            while True:
                state = await handle.query(OrchestrationWorkflow.status)
                if state.steps.get(DEPLOY) and state.steps[DEPLOY].status == StepStatus.RUNNING:
                    break
                await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # the deployment activity is now inside its delay
        worker = await killed_and_restarted(worker, env, log)
        async with asyncio.timeout(60):
            result = await handle.result()
    finally:
        await stopped(worker)

    assert result.status == RunStatus.COMPLETED, log.read_text()[-3000:]
    assert result.steps[DEPLOY].attempts == 2
    store = EmbeddedGraphStore(tmp_path / "graph.lbug")
    await store.setup()
    try:
        entities = await store.find_entities()
        graph = await store.run_graph(handle.id)
    finally:
        await store.close()
    made = sorted((e.kind, e.name) for e in entities)
    assert made == [
        ("application", "ecommerce"),
        ("deployment", "ecommerce-production"),
        ("environment", "production"),
        ("policy", "monitoring-ecommerce-production"),
        ("policy", "security-ecommerce-production"),
        ("service", "payment"),
    ]
    # Each entity was made by its own step of this run, and every step says so.
    owners = {e.created_by for e in entities}
    assert owners == {f"{handle.id}/{step_id}" for step_id in result.steps}
    assert all(s.output and s.output["created"] for s in result.steps.values())
    assert graph.steps[DEPLOY]["attempt"] == 2
    assert all(s["status"] == "completed" for s in graph.steps.values())
