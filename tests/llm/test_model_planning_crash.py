"""kill -9 of the worker while a model plans a run: another worker plans it again
within the plan activity's heartbeat timeout, not its two-minute timeout."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import uuid
from pathlib import Path

from temporalio.client import Client

from orchestrator.devserver import DevServer
from orchestrator.models import OrchestrationRequest, RunStatus
from tests.integration.stack import S1
from tests.integration.test_worker_crash import _start_worker, killed_and_restarted, stopped
from tests.llm.fake_openai import FakeOpenAi
from tests.llm.support import KEY, S1_ANSWER, S1_SHAPE, answer, shape
from workflows.orchestration import OrchestrationWorkflow
from workflows.planning import PLAN_HEARTBEAT, PLAN_TIMEOUT


async def test_a_worker_killed_while_a_model_plans_hands_the_plan_on(
    client: Client, temporal_server: DevServer, tmp_path: Path, fake_openai: FakeOpenAi
) -> None:
    # The first try is held past anything the test waits; the second answers.
    fake_openai.script = [dataclasses.replace(answer(S1_ANSWER), delay_s=60.0),
                          answer(S1_ANSWER)]
    task_queue = f"plan-crash-{uuid.uuid4()}"
    env = {
        **os.environ,
        "ORCHESTRATOR_TEMPORAL_ADDRESS": temporal_server.address,
        "ORCHESTRATOR_TASK_QUEUE": task_queue,
        "ORCHESTRATOR_DATA_DIR": str(tmp_path),
        "ORCHESTRATOR_OPENAI_BASE_URL": fake_openai.url,
        "ORCHESTRATOR_OPENAI_API_KEY": KEY,
        "ORCHESTRATOR_OPENAI_TIMEOUT_S": "90",
    }
    log = tmp_path / "worker.log"
    worker = await _start_worker(env, log)
    handle = await client.start_workflow(
        OrchestrationWorkflow.run, OrchestrationRequest(message=S1, plan_by_model=True),
        id=f"plan-crash-{uuid.uuid4()}", task_queue=task_queue,
    )
    try:
        async with asyncio.timeout(30):
            while not fake_openai.requests:  # noqa: ASYNC110 - filled by the server's thread
                await asyncio.sleep(0.05)
        worker = await killed_and_restarted(worker, env, log)
        async with asyncio.timeout(PLAN_TIMEOUT.total_seconds() / 2):
            result = await handle.result()
    finally:
        await stopped(worker)

    assert result.status == RunStatus.COMPLETED, log.read_text()[-3000:]
    assert result.plan is not None and result.plan.planner == "llm"
    assert shape(result.plan) == S1_SHAPE
    first, second = fake_openai.requests
    # Asked again once the heartbeats stopped: within their timeout (and the worker's
    # start), far from the plan's timeout.
    waited = second.at - first.at
    assert waited < PLAN_HEARTBEAT.total_seconds() + 15, waited
