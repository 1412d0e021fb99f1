"""A cancel, then kill -9 of the worker before the running step hears it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHistory

from orchestrator.devserver import DevServer
from orchestrator.graph.embedded import EmbeddedGraphStore
from orchestrator.models import (
    OrchestrationRequest,
    ProblemKind,
    RunResult,
    RunStatus,
    StepStatus,
)
from orchestrator.settings import Settings
from tests.integration.stack import S1, api_only, result_of, state_of, wait_until
from worker.replay import replay
from workflows.orchestration import OrchestrationWorkflow

ENV = "ensure-environment-production"


async def _start_worker(env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "orchestrator.cli", "worker", env=env,
        stdin=asyncio.subprocess.DEVNULL, stdout=log.open("ab"), stderr=asyncio.subprocess.STDOUT,
    )


@dataclass
class Seen:
    result: RunResult
    state: RunResult
    history: WorkflowHistory


async def _cancel_then_kill(
    client: Client, temporal_server: DevServer, tmp_path: Path, round_: int
) -> Seen:
    """One run: cancelled while its slow step runs, its worker killed at once."""
    task_queue = f"cancel-crash-{uuid.uuid4()}"
    env = {
        **os.environ,
        "ORCHESTRATOR_TEMPORAL_ADDRESS": temporal_server.address,
        "ORCHESTRATOR_TASK_QUEUE": task_queue,
        "ORCHESTRATOR_DATA_DIR": str(tmp_path / f"worker-{round_}"),
        # The environment is slow on purpose, so the cancel lands while it runs.
        "ORCHESTRATOR_AGENT_FAULTS": json.dumps({"environment.ensure": {"delay_ms": 60_000}}),
    }
    log = tmp_path / f"worker-{round_}.log"
    worker = await _start_worker(env, log)
    handle = await client.start_workflow(
        OrchestrationWorkflow.run, OrchestrationRequest(message=S1),
        id=f"cancel-crash-{uuid.uuid4()}", task_queue=task_queue,
    )
    # The API alone, on a graph of its own: the worker process holds the run's.
    settings = Settings(temporal_address=temporal_server.address,
                        data_dir=tmp_path / f"api-{round_}", task_queue=task_queue)
    try:
        async with api_only(settings, client, tmp_path / f"api-graph-{round_}.lbug") as http:
            await wait_until(http, handle.id,
                             lambda r: ENV in r.steps and r.steps[ENV].status == StepStatus.RUNNING)
            await asyncio.sleep(1.0)  # the environment activity is now inside its delay
            reply = await http.post(f"/v1/workflows/{handle.id}/cancel")
            assert reply.status_code == 200, reply.text
            # Killed before the activity's next heartbeat carries the cancel to it.
            worker.send_signal(signal.SIGKILL)
            await worker.wait()
            worker = await _start_worker(env, log)
            async with asyncio.timeout(60):
                result = await result_of(client, handle.id)
            seen = Seen(result, await state_of(http, handle.id), await handle.fetch_history())
    finally:
        worker.send_signal(signal.SIGINT)
        async with asyncio.timeout(20):
            await worker.wait()
    assert result.status == RunStatus.CANCELLED, log.read_text()[-3000:]
    return seen


def _timed_out_after_cancel(history: WorkflowHistory) -> bool:
    return any(e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT
               for e in history.events)


async def test_a_step_cancelled_as_its_worker_dies_says_cancelled_with_its_attempt(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    # The kill races the step's next heartbeat (each second), which would bring it
    # the cancel: a run whose step heard it in time tells nothing, and is run again.
    for round_ in range(3):
        seen = await _cancel_then_kill(client, temporal_server, tmp_path, round_)
        if _timed_out_after_cancel(seen.history):
            break
    else:
        raise AssertionError("the step heard the cancel before its worker died, 3 times")
    result, workflow_id = seen.result, seen.result.workflow_id
    # Cancelled, not failed by its agent; and it did run, once.
    step = seen.state.steps[ENV]
    assert (step.status, step.attempts) == (StepStatus.CANCELLED, 1), step
    assert step.error == "cancelled (its worker stopped before the cancel reached it)"
    assert step.tries == []  # nothing held against the agent
    assert result.problem is not None and result.problem.kind == ProblemKind.CANCELLED
    assert not any(ENV in d for d in result.problem.details), result.problem
    replayed = await replay(seen.history)
    assert replayed.ok, replayed.describe()
    graph = EmbeddedGraphStore(tmp_path / f"worker-{round_}" / "graph.lbug")
    await graph.setup()
    try:
        mirrored = (await graph.run_graph(workflow_id)).steps[ENV]
    finally:
        await graph.close()
    assert (mirrored["status"], mirrored["attempt"]) == ("cancelled", 1)
