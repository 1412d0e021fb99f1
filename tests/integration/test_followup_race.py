"""A follow-up that meets the end of a run, on the real Temporal dev server.

The rule: a follow-up accepted while the executor still runs is run in the same
run, even when the last step finishes while it is being planned; once the executor
has finished, the run refuses it and the API starts a new run that follows it.
The windows are widened by registering slow stand-ins under the activities' names.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from activities.graph import GraphActivities
from activities.planning import PlanningActivities
from activities.steps import StepActivities
from api.app import create_app
from orchestrator.agents.faults import Fault
from orchestrator.devserver import DevServer
from orchestrator.models import (
    Followup,
    PlanInput,
    PlanOutput,
    RunRecord,
    RunResult,
    RunStatus,
    StepStatus,
)
from orchestrator.settings import Settings
from tests.integration.stack import result_of
from worker.client import run_handle
from worker.runtime import build_planner, build_runtime, workflow_runner
from workflows.orchestration import OrchestrationWorkflow

HOLD_S = 3.0
# Longer than the workflow task may stay open (80% of its default 10 s): a local
# activity that outlasts it makes the worker close the task and take a new one, so
# the step's completion reaches the run while the follow-up is still being planned.
PLAN_HOLD_S = 9.0
CACHE = "also add a cache service"


@dataclass
class Slow:
    http: httpx.AsyncClient
    # Set when the run's final mirror starts: its executor has finished.
    final_mirror: asyncio.Event


@contextlib.asynccontextmanager
async def slow_stack(
    client: Client, address: str, data_dir: Path, slow_followup_plan: bool = False,
    slow_final_mirror: bool = False, **overrides: object,
) -> AsyncIterator[Slow]:
    settings = Settings.model_validate({
        "temporal_address": address, "data_dir": data_dir,
        "task_queue": f"test-{uuid.uuid4()}", **overrides,
    })
    runtime = await build_runtime(settings)
    holding = asyncio.Event()
    planning = PlanningActivities(build_planner(runtime), runtime.registry, runtime.mirror,
                                  runtime.store)
    graph = GraphActivities(runtime.store, runtime.mirror)

    @activity.defn(name="plan_request")
    async def plan_request(request: PlanInput) -> PlanOutput:
        if slow_followup_plan and request.extension:
            await asyncio.sleep(PLAN_HOLD_S)
        return await planning.plan_request(request)

    @activity.defn(name="record_run")
    async def record_run(record: RunRecord) -> None:
        if slow_final_mirror and record.status == RunStatus.COMPLETED:
            holding.set()
            await asyncio.sleep(HOLD_S)
        await graph.record_run(record)

    worker = Worker(
        client, task_queue=settings.task_queue, workflows=[OrchestrationWorkflow],
        activities=[plan_request, StepActivities(runtime.agents, runtime.mirror).run_agent_step,
                    record_run],
        workflow_runner=workflow_runner(settings.workflow_sandbox, client.data_converter),
    )
    app = create_app(settings, client, runtime.store, runtime.hub)
    try:
        async with (
            worker, app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api",
                              timeout=60) as http,
        ):
            yield Slow(http, holding)
    finally:
        await runtime.close()


async def test_followup_planned_past_the_last_step_still_runs_in_the_run(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    faults = {"application.create": Fault(delay_ms=1500)}
    async with slow_stack(client, temporal_server.address, tmp_path,
                          slow_followup_plan=True, agent_faults=faults) as slow:
        http = slow.http
        started = await http.post("/v3/ai/chat", json={"message": "create application shop"})
        assert started.status_code == 200, started.text
        workflow_id = started.json()["workflow_id"]
        reply = await http.post("/v3/ai/chat", json={
            "message": CACHE, "conversation_id": workflow_id, "wait": True,
        })
        assert reply.status_code == 200, reply.text
        assert reply.json()["workflow_id"] == workflow_id
        result = RunResult.model_validate(reply.json()["result"])
        assert result.status == RunStatus.COMPLETED
        # The race was met: the run saw its only step complete before the follow-up's
        # plan came back (the history has the step's completion before the marker of
        # the second `plan_request`), and the run still ran the follow-up's step.
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        kinds = [e.event_type for e in history.events]
        plans = [i for i, e in enumerate(history.events)
                 if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
                 and b"plan_request" in e.marker_recorded_event_attributes.SerializeToString()]
        assert len(plans) == 2, plans
        assert kinds.index(EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED) < plans[1]
        cache = result.steps["create-service-cache"]
        assert cache.status == StepStatus.COMPLETED
        assert cache.parameters == {"application": "shop", "name": "cache"}


async def test_followup_after_the_executor_finished_goes_to_a_new_run(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    async with slow_stack(client, temporal_server.address, tmp_path,
                          slow_final_mirror=True) as slow:
        started = await slow.http.post("/v3/ai/chat", json={"message": "create application shop"})
        workflow_id = started.json()["workflow_id"]
        await asyncio.wait_for(slow.final_mirror.wait(), 30)
        # The executor has finished; the run is closing. The follow-up is refused:
        # by the run's validator, or by the server as the closing task completes.
        handle = run_handle(client, workflow_id)
        with pytest.raises((WorkflowUpdateFailedError, RPCError)) as refused:
            await handle.execute_update(OrchestrationWorkflow.extend, Followup(message=CACHE))
        if isinstance(refused.value, WorkflowUpdateFailedError):
            cause = refused.value.cause
            assert isinstance(cause, ApplicationError) and cause.type == "ExtendRefused"
        else:
            assert isinstance(refused.value, RPCError)
            assert refused.value.status == RPCStatusCode.NOT_FOUND
        reply = await slow.http.post("/v3/ai/chat", json={
            "message": CACHE, "conversation_id": workflow_id, "wait": True,
        })
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert body["workflow_id"] != workflow_id and body["follows"] == workflow_id
        assert body["result"]["status"] == "completed"
        earlier = await result_of(client, workflow_id)
        assert sorted(earlier.steps) == ["create-application-shop"]
        assert earlier.extensions == []
