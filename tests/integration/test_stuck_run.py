"""A run whose workflow code changed under it fails its workflow task on every
try; the API says so, and where to look, instead of Temporal's bare refusal."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from temporalio import workflow
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from orchestrator.devserver import DevServer
from orchestrator.models import OrchestrationRequest, RunResult, RunStatus
from tests.integration.stack import running_stack, start, wait_until
from workflows.orchestration import OrchestrationWorkflow


@workflow.defn(name="OrchestrationWorkflow", sandboxed=False)
class ChangedWorkflow(OrchestrationWorkflow):
    """The workflow with a timer added first, without `workflow.patched`."""

    @workflow.run
    async def run(self, request: OrchestrationRequest) -> RunResult:
        await workflow.sleep(timedelta(milliseconds=10))
        return await super().run(request)


async def test_a_run_whose_code_changed_under_it_is_told_as_stuck(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> None:
    async with running_stack(client, temporal_server.address, tmp_path / "first") as s:
        run = await start(s.http, "create application shop", require_approval=True)
        await wait_until(s.http, run, lambda r: r.status == RunStatus.AWAITING_APPROVAL)
        queue = s.settings.task_queue
    # The run's queue is now served by the changed code only.
    changed = Worker(client, task_queue=queue, workflows=[ChangedWorkflow],
                     workflow_runner=UnsandboxedWorkflowRunner())
    async with changed, running_stack(client, temporal_server.address,
                                      tmp_path / "second") as s:
        # Anything that gives the run a workflow task finds the change.
        await client.get_workflow_handle(run).cancel()
        async with asyncio.timeout(60):
            while True:
                reply = await s.http.get(f"/v1/workflows/{run}")
                if reply.status_code != 200:
                    break
                await asyncio.sleep(0.2)
        assert reply.status_code == 409, reply.text
        detail = reply.json()["detail"]
        assert detail.startswith(f"run {run} is stuck: its workflow code fails on the "
                                 "worker ("), detail
        assert f"`orchestrator replay {run}` shows where" in detail
        cancel = await s.http.post(f"/v1/workflows/{run}/cancel")
        assert cancel.status_code == 409 and "is stuck" in cancel.json()["detail"]
        # Terminated, it is stuck no more: it has ended, and this code cannot read it.
        await client.get_workflow_handle(run).terminate("test")
        ended = await s.http.get(f"/v1/workflows/{run}")
        assert ended.status_code == 409, ended.text
        assert ended.json()["detail"].startswith(
            f"run {run} has ended (terminated), and this worker's code cannot read its "
            "state"), ended.text
