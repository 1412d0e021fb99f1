"""A read-only tool the graph has seen answer quickly runs as a local activity,
inside the workflow's task, and costs about the call rather than a round trip
through the server each way; it reads, fails and replays as a step run as an
activity does, one that turns slow is made again as an activity, and a worker
killed during it leaves the run to the next."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from orchestrator.devserver import DevServer
from orchestrator.models import OrchestrationRequest, RunResult, RunStatus, StepStatus
from orchestrator.planning.quick import QUICK_AFTER_RUNS
from tests.integration.stack import Stack, mcp_stack, run_waited
from tests.integration.test_worker_crash import _start_worker, killed_and_restarted, stopped
from tests.mcp.support import cloud_with_prod
from worker.replay import replay
from workflows.calls import LOCAL_WITHIN
from workflows.orchestration import OrchestrationWorkflow

GET = "cloud get cluster name=prod"
STEP = "cloud-get_cluster"
AGENT = "mcp-cloud"


@contextlib.asynccontextmanager
async def _cloud(client: Client, temporal_server: DevServer, tmp_path: Path,
                 **options: Any) -> AsyncIterator[Stack]:
    """A stack whose one MCP server is the project's cloud, holding cluster prod."""
    server = cloud_with_prod(tmp_path, **options)
    async with mcp_stack(client, temporal_server.address, tmp_path, {"cloud": server}) as s:
        yield s


@pytest.fixture
async def stack(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> AsyncIterator[Stack]:
    # A tool's error is final: one attempt, as quick as a success.
    async with _cloud(client, temporal_server, tmp_path, retry_tool_errors=False) as s:
        yield s


async def _ran(stack: Stack, message: str) -> tuple[RunResult, int]:
    """The run of `message`, and how many of its steps ran as activities (the rest
    ran as local activities: no task of theirs went through the server)."""
    result = await run_waited(stack, message)
    await stack.runtime.mirror.flush()  # its outcomes counted before the next plan
    history = await stack.client.get_workflow_handle(result.workflow_id).fetch_history()
    scheduled = [e for e in history.events
                 if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
                 and e.activity_task_scheduled_event_attributes.activity_type.name
                 == "run_agent_step"]
    return result, len(scheduled)


async def _quick(stack: Stack, seen: int = 0) -> None:
    """Run the read-only step until the graph has seen it (`seen` times already)
    often enough to trust its duration, checking it ran as an activity till then."""
    for _ in range(QUICK_AFTER_RUNS - seen):
        result, activities = await _ran(stack, GET)
        assert result.status == RunStatus.COMPLETED, result.problem
        assert result.plan is not None and result.plan.steps[0].quick_agents == []
        assert activities == 1


async def test_a_read_only_step_seen_quick_runs_as_a_local_activity(stack: Stack) -> None:
    first, _ = await _ran(stack, GET)
    await _quick(stack, seen=1)
    quick, activities = await _ran(stack, GET)
    assert quick.status == RunStatus.COMPLETED, quick.problem
    assert quick.plan is not None and quick.plan.steps[0].quick_agents == [AGENT]
    assert activities == 0
    # What the step gave is the same however it ran.
    step, before = quick.steps[STEP], first.steps[STEP]
    assert step.output == before.output and step.output is not None
    assert step.output["structured_content"]["endpoint"] == "https://prod.k8s.test"
    assert (step.status, step.attempts, step.agent) == (StepStatus.COMPLETED, 1, AGENT)
    history = await stack.client.get_workflow_handle(quick.workflow_id).fetch_history()
    report = await replay(history)
    assert report.ok, report.describe()


async def test_a_quick_step_that_fails_is_told_as_a_step_run_as_an_activity(
    stack: Stack,
) -> None:
    missing = "cloud get cluster name=nowhere"
    slow, activities = await _ran(stack, missing)
    assert activities == 1
    await _quick(stack, seen=1)  # a failed call counts: it too took its time
    quick, activities = await _ran(stack, missing)
    assert quick.plan is not None and quick.plan.steps[0].quick_agents == [AGENT]
    assert activities == 0
    assert quick.status == slow.status == RunStatus.ROLLED_BACK
    told, before = quick.steps[STEP], slow.steps[STEP]
    assert (told.status, told.error, told.attempts) == (
        before.status, before.error, before.attempts)
    assert told.error is not None and "cluster 'nowhere' does not exist" in told.error
    assert quick.problem is not None and slow.problem is not None
    assert quick.problem.message == slow.problem.message


async def test_a_quick_step_turned_slow_is_made_again_as_an_activity(
    stack: Stack, tmp_path: Path
) -> None:
    await _quick(stack)
    state = tmp_path / "cloud.json"
    data = json.loads(state.read_text())
    data["get_cluster_delay_s"] = LOCAL_WITHIN.total_seconds() + 1
    state.write_text(json.dumps(data))
    turned, activities = await _ran(stack, GET)
    assert turned.plan is not None and turned.plan.steps[0].quick_agents == [AGENT]
    assert turned.status == RunStatus.COMPLETED, turned.problem
    assert activities == 1  # after the local try ran out of time
    # It was seen slow: the next run does not try it locally.
    data["get_cluster_delay_s"] = 0
    state.write_text(json.dumps(data))
    after, activities = await _ran(stack, GET)
    assert after.plan is not None and after.plan.steps[0].quick_agents == []
    assert activities == 1


async def test_a_quick_step_failing_in_a_way_worth_retrying_gets_every_try_of_its_agent(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    # Tool errors retried (the default), quickly.
    async with _cloud(client, temporal_server, tmp_path,
                      retry={"initial_interval_ms": 50, "max_attempts": 3}) as stack:
        await _quick(stack)
        failed, activities = await _ran(stack, "cloud get cluster name=nowhere")
    assert failed.plan is not None and failed.plan.steps[0].quick_agents == [AGENT]
    assert failed.status == RunStatus.ROLLED_BACK
    # One local try, then the step again as an activity, with all three of its tries.
    assert activities == 1
    step = failed.steps[STEP]
    assert step.attempts == 3, step
    assert step.error is not None and "cluster 'nowhere' does not exist" in step.error


async def test_a_worker_killed_during_a_quick_step_leaves_the_run_to_the_next(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    """The local try lives in the worker's workflow task: kill -9 loses the task, and
    a new worker makes it again once Temporal times the task out."""
    (tmp_path / "mcp.json").write_text(json.dumps({"mcpServers": {
        "cloud": cloud_with_prod(tmp_path)}}))
    state = tmp_path / "cloud.json"
    cloud: dict[str, Any] = json.loads(state.read_text())
    task_queue = f"quick-crash-{uuid.uuid4()}"
    env = {**os.environ, "ORCHESTRATOR_TEMPORAL_ADDRESS": temporal_server.address,
           "ORCHESTRATOR_TASK_QUEUE": task_queue, "ORCHESTRATOR_DATA_DIR": str(tmp_path)}
    log = tmp_path / "worker.log"
    worker = await _start_worker(env, log)
    try:
        for i in range(QUICK_AFTER_RUNS):
            seen = await client.execute_workflow(
                OrchestrationWorkflow.run, OrchestrationRequest(message=GET),
                id=f"seen-{i}-{uuid.uuid4()}", task_queue=task_queue)
            assert seen.status == RunStatus.COMPLETED, log.read_text()[-3000:]
        # Slow enough for the kill to land in the call, quick enough to stay local.
        cloud["get_cluster_delay_s"] = LOCAL_WITHIN.total_seconds() * 0.75
        state.write_text(json.dumps(cloud))
        handle = await client.start_workflow(
            OrchestrationWorkflow.run, OrchestrationRequest(message=GET),
            id=f"quick-crash-{uuid.uuid4()}", task_queue=task_queue)
        await asyncio.sleep(0.8)  # planned and calling (the task holds queries meanwhile)
        worker = await killed_and_restarted(worker, env, log)
        async with asyncio.timeout(60):
            result = await handle.result()
    finally:
        await stopped(worker)
    assert result.status == RunStatus.COMPLETED, log.read_text()[-3000:]
    assert result.plan is not None and result.plan.steps[0].quick_agents == [AGENT]
    step = result.steps[STEP]
    assert step.output is not None
    assert step.output["structured_content"]["endpoint"] == "https://prod.k8s.test"
    kinds = [e.event_type for e in (await handle.fetch_history()).events]
    # The killed worker's task timed out; the next one ran the step locally again.
    assert EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT in kinds
    assert EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED not in kinds
