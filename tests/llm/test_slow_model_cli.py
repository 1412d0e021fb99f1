"""`orchestrator chat` while a slow model plans: it says it is still planning."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

from temporalio.client import Client

from orchestrator.devserver import DevServer, free_port
from orchestrator.models import OrchestrationRequest, RunStatus
from tests.command_line import run_cli, start_up, until_healthy
from tests.llm.fake_openai import FakeOpenAi, Reply
from tests.llm.support import KEY
from workflows.orchestration import OrchestrationWorkflow


async def test_chat_says_it_is_still_planning_while_the_model_is_slow(
    client: Client, temporal_server: DevServer, tmp_path: Path, fake_openai: FakeOpenAi
) -> None:
    # Every try of the model outlasts its timeout; the rules plan on the last one.
    # Two runs: one through the API (chat), one started on Temporal directly.
    fake_openai.script = [Reply(delay_s=5.0)] * 6
    port = free_port()
    log = tmp_path / "up.log"
    env = {
        **os.environ,
        "ORCHESTRATOR_TEMPORAL_ADDRESS": temporal_server.address,
        "ORCHESTRATOR_TASK_QUEUE": f"slow-model-{uuid.uuid4()}",
        "ORCHESTRATOR_DATA_DIR": str(tmp_path),
        "ORCHESTRATOR_OPENAI_BASE_URL": fake_openai.url,
        "ORCHESTRATOR_OPENAI_API_KEY": KEY,
        "ORCHESTRATOR_OPENAI_TIMEOUT_S": "2",
    }
    up = await start_up(env, log, port)
    api = f"http://127.0.0.1:{port}"
    try:
        await until_healthy(api)
        code, out = await run_cli("chat", "create application shop with payment service",
                                  "--api", api, env=env)
        # Started without the API, nothing says a model plans the run: it plans
        # inside its workflow task, which the model holds, and Temporal core warns.
        direct = await client.execute_workflow(
            OrchestrationWorkflow.run, OrchestrationRequest(message="create application shop"),
            id=f"direct-{uuid.uuid4()}", task_queue=env["ORCHESTRATOR_TASK_QUEUE"])
    finally:
        up.send_signal(2)
        async with asyncio.timeout(30):
            await up.wait()
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0].startswith("(still planning after 3 s: "), out
    # From the model's second try on, which try it is and why the one before failed.
    tries = [line for line in lines if line.startswith("(still planning after")
             and "failed: the model did not answer within 2 s" in line]
    assert tries, out
    assert any("the model's try 2 of 3; try 1 failed" in line for line in tries) or any(
        "the model's try 3 of 3; try 2 failed" in line for line in tries), out
    # Said before the plan, not after.
    assert lines.index(next(line for line in lines if line.startswith("Run "))) > 0, out
    # Why it took so long, said with the plan.
    assert direct.status == RunStatus.COMPLETED, direct.problem
    assert ("Plan: 2 steps (read by the rules; the model did not answer within 2 s; "
            "tried 3 times)") in out, out
    # Temporal core's warning about the direct run's long planning reaches the log
    # as plain text.
    logged = log.read_text()
    assert "Workflow task duration exceeded" in logged, logged
    assert "\x1b[" not in logged, logged
