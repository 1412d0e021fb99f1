"""Neo4j stopped in the middle of a run: the steps go on, the run completes, and
once Neo4j is back the graph holds the same run as one that saw no outage.

The agents here keep no world of their own (they answer at once, one of them
slowly), so the only thing the outage can touch is the mirroring itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from api.app import create_app
from api.run_state import as_temporal_sees_it
from orchestrator.agents.base import AgentResult, StepContext
from orchestrator.agents.faults import Fault
from orchestrator.devserver import DevServer, free_port
from orchestrator.graph.neo4j_server import Neo4jServer
from orchestrator.graph.store import RunGraph
from orchestrator.models import OrchestrationRequest, RunResult, RunStatus, StepStatus
from orchestrator.settings import Settings
from tests.integration.stack import S1
from worker.client import run_handle
from worker.runtime import Runtime, build_runtime, build_worker
from workflows.orchestration import OrchestrationWorkflow

S2 = "create application shop with payment service"
SLOW = "service.create"
SERVICE = "create-service-payment"


class WorldlessAgents:
    """Agents that touch nothing; the service step takes a while when asked to."""

    def __init__(self) -> None:
        self.slow_s = 0.0

    async def run(self, capability: str, params: dict[str, Any], ctx: StepContext
                  ) -> AgentResult:
        if capability == SLOW:
            await asyncio.sleep(self.slow_s)
        # What later steps refer to: the entity made, named like the platform's.
        kind = capability.split(".")[0]
        name = params.get("name") or "-".join(str(params[k]) for k in sorted(params))
        return AgentResult(output={**params, kind: name, "owner": ctx.owner})


def _shape(graph: RunGraph) -> dict[str, Any]:
    """A run's graph without its workflow id: what two runs of one plan share."""
    return {
        "status": graph.status,
        "steps": {i: (s["capability"], s["agent"], s["status"]) for i, s in graph.steps.items()},
        "depends_on": graph.depends_on, "executed_by": graph.executed_by,
    }


async def _until(
    client: Client, workflow_id: str, check: Callable[[RunResult], bool], timeout_s: float
) -> RunResult:
    """Poll the run's status query until `check` holds."""
    handle = run_handle(client, workflow_id)
    async with asyncio.timeout(timeout_s):
        while True:
            state = await handle.query(OrchestrationWorkflow.status)
            if check(state):
                return state
            await asyncio.sleep(0.05)


def _all_completed(state: RunResult) -> bool:
    return all(s.status == StepStatus.COMPLETED for s in state.steps.values())


def _service_running(state: RunResult) -> bool:
    return SERVICE in state.steps and state.steps[SERVICE].status == StepStatus.RUNNING


@dataclass
class OnNeo4j:
    neo4j: Neo4jServer
    settings: Settings
    runtime: Runtime
    agents: WorldlessAgents


async def _started_to_service(
    client: Client, on: OnNeo4j, message: str
) -> WorkflowHandle[Any, RunResult]:
    """A run of `message`, once its service step is running."""
    handle: WorkflowHandle[Any, RunResult] = await client.start_workflow(
        OrchestrationWorkflow.run, OrchestrationRequest(message=message),
        id=f"{on.settings.task_queue}-{uuid.uuid4()}", task_queue=on.settings.task_queue,
    )
    await _until(client, handle.id, _service_running, 30)
    return handle


@contextlib.asynccontextmanager
async def _on_neo4j(temporal_server: DevServer, tmp_path: Path, queue: str,
                    worldless: bool = True, **overrides: Any) -> AsyncIterator[OnNeo4j]:
    """A runtime on a Neo4j of its own (with worldless agents unless told otherwise);
    both closed after."""
    neo4j = Neo4jServer(free_port(), tmp_path / "neo4j", secrets.token_urlsafe(16))
    await neo4j.start()
    try:
        settings = Settings(
            temporal_address=temporal_server.address, data_dir=tmp_path,
            task_queue=f"{queue}-{uuid.uuid4()}", graph_backend="neo4j", neo4j_uri=neo4j.uri,
            neo4j_password=SecretStr(neo4j.password), **overrides,
        )
        runtime = await build_runtime(settings)
        try:
            agents = WorldlessAgents()
            if worldless:
                runtime.agents = agents
            yield OnNeo4j(neo4j, settings, runtime, agents)
        finally:
            await runtime.close()
    finally:
        await neo4j.stop()


async def test_a_run_outlives_a_neo4j_outage_and_the_graph_converges(
    client: Client, temporal_server: DevServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    async with _on_neo4j(temporal_server, tmp_path, "outage") as on:
        neo4j, runtime, queue = on.neo4j, on.runtime, on.settings.task_queue
        async with build_worker(client, runtime):
            calm = await client.execute_workflow(
                OrchestrationWorkflow.run, OrchestrationRequest(message=S1),
                id=f"calm-{uuid.uuid4()}", task_queue=queue,
            )
            on.agents.slow_s = 3.0
            handle = await _started_to_service(client, on, S1)
            await neo4j.stop()
            try:
                # Down while the service finishes and every later step runs: they go on.
                state = await _until(client, handle.id, _all_completed, 60)
                # Decided, but not closed: its final mirror waits for the graph,
                # saying so in a line a try (the first try may take a while: the
                # driver retries within it).
                assert state.status == RunStatus.COMPLETED
                assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
                waits = f"the graph mirror of run {handle.id} waits for the graph"
                async with asyncio.timeout(30):
                    # Polled: a log line has no event to wait on.
                    while not any(waits in r.getMessage() for r in caplog.records):  # noqa: ASYNC110
                        await asyncio.sleep(0.2)
            finally:
                # Back whatever failed above: with the graph down, the final mirror
                # would hold this worker's shutdown, and the failure would be lost.
                await neo4j.start()
            async with asyncio.timeout(60):
                result = await handle.result()
            await runtime.mirror.flush()
            calm_graph = await runtime.store.run_graph(calm.workflow_id)
            outage_graph = await runtime.store.run_graph(result.workflow_id)

    assert calm.status == result.status == RunStatus.COMPLETED
    assert all(s.attempts == 1 for s in result.steps.values())  # no step failed
    assert _shape(outage_graph) == _shape(calm_graph)
    assert outage_graph.status == "completed"
    # The final mirror's tries while Neo4j was down were told a line each (above),
    # without Temporal's traceback.
    told = [r.getMessage() for r in caplog.records]
    assert not [m for m in told if "Completing activity as failed" in m and "record_run" in m]


async def test_a_worker_stops_while_a_final_mirror_waits_for_the_graph(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    async with _on_neo4j(temporal_server, tmp_path, "stop") as on:
        on.agents.slow_s = 2.0
        # Bounded: a worker that cannot stop would otherwise hold the test forever.
        async with asyncio.timeout(150):
            async with build_worker(client, on.runtime):
                handle = await _started_to_service(client, on, S1)
                await on.neo4j.stop()
                await _until(client, handle.id, _all_completed, 60)
                stopping = asyncio.get_running_loop().time()
            # Stopped, though the run's final mirror could not be written.
            stopped_in = asyncio.get_running_loop().time() - stopping
        assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
        await on.neo4j.start()
        # A worker started again (here, on the same runtime) closes the run.
        async with build_worker(client, on.runtime):
            async with asyncio.timeout(60):
                result = await handle.result()
        await on.runtime.mirror.flush()
        graph = await on.runtime.store.run_graph(result.workflow_id)
    # At most the mirror's try under way when the worker was asked to stop.
    assert stopped_in < 15, stopped_in
    assert result.status == RunStatus.COMPLETED
    assert graph.status == "completed"


async def _progress(client: Client, handle: WorkflowHandle[Any, RunResult]) -> str | None:
    """The service step's progress as the API shows it."""
    state = await handle.query(OrchestrationWorkflow.status)
    seen = await as_temporal_sees_it(handle, state, client.data_converter)
    return seen.steps[SERVICE].progress


async def test_steps_wait_out_a_neo4j_restart_and_the_run_completes(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    # The platform's own agents, which keep their world in the graph; the service
    # step writes 2 s after it starts, while Neo4j is down.
    slow = {"service.create": Fault(delay_ms=2000)}
    async with _on_neo4j(temporal_server, tmp_path, "restart", worldless=False,
                         agent_faults=slow) as on:
        # The attempt's own deadline far beyond the delay, the outage and the
        # restart: with another test suite running, a restart took 10 s and the
        # step 24 s, close to the default 30 s; past it, the wait ended with the
        # attempt and the step was told on its second.
        on.runtime.registry.agent("service-agent").start_to_close_ms = 90_000
        async with build_worker(client, on.runtime):
            handle = await _started_to_service(client, on, S2)
            await on.neo4j.stop()
            try:
                # The step's write meets a graph that is down, longer than the
                # step's three attempts would last failing at once (~3 s each).
                waited = asyncio.get_running_loop().time() + 12
                # Meanwhile the run's view says what the step waits for.
                # Polled: the view is read from Temporal, which has no event for it.
                async with asyncio.timeout(10):
                    while (progress := await _progress(client, handle)) is None:  # noqa: ASYNC110
                        await asyncio.sleep(0.5)
                assert progress.startswith("waiting: for the graph: cannot reach Neo4j")
                await asyncio.sleep(waited - asyncio.get_running_loop().time())
            finally:
                restarting = asyncio.get_running_loop().time()
                await on.neo4j.start()
                restarted_in = asyncio.get_running_loop().time() - restarting
            async with asyncio.timeout(90):
                result = await handle.result()
        services = await on.runtime.store.find_entities("service")
    assert result.status == RunStatus.COMPLETED, result.problem
    step = result.steps[SERVICE]
    assert step.attempts == 1, (restarted_in, step.tries)  # waited within its attempt
    assert [(s.name, s.created_by) for s in services] == [
        ("payment", f"{result.workflow_id}/{SERVICE}")]


async def test_a_request_while_neo4j_is_down_is_refused_before_a_run_starts(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    async with _on_neo4j(temporal_server, tmp_path, "down-chat", worldless=False) as on:
        app = create_app(on.settings, client, on.runtime.store, on.runtime.hub)
        transport = httpx.ASGITransport(app=app)
        async with (
            build_worker(client, on.runtime), app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://api", timeout=60) as http,
        ):
            body, key = {"message": S2, "wait": True}, {"Idempotency-Key": "down"}
            await on.neo4j.stop()
            try:
                refused = await http.post("/v3/ai/chat", json=body, headers=key)
                # Refused before a run started: nothing to roll back, nothing failed.
                with pytest.raises(RPCError) as missing:
                    await client.get_workflow_handle("run-down").describe()
            finally:
                await on.neo4j.start()
            # Sent again once Neo4j is back (as `chat` does on a 503): it runs.
            again = await http.post("/v3/ai/chat", json=body, headers=key)
    assert refused.status_code == 503, refused.text
    told = refused.json()["detail"]
    assert told.startswith(f"cannot reach Neo4j at {on.neo4j.uri}: "), told
    assert told.endswith("; send the request again once it answers"), told
    assert missing.value.status == RPCStatusCode.NOT_FOUND
    assert again.status_code == 200, again.text
    assert again.json()["result"]["status"] == RunStatus.COMPLETED.value
