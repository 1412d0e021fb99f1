"""Records golden histories: `python -m tests.histories.record` after a deliberate,
patched change to the workflow (old histories must still replay, so keep them).

S1 runs through; S5 fails its deployment for good and rolls back; S7 waits for
two approvals (policies made sensitive) and gets them one by one; s1-followup gets
"also add a cache service" (the Update `extend`) while its deployment runs;
s1-model-planned is S1 as the API starts it when a model is configured (planned as
an activity of its own; the rules plan it here, the history is the same);
mcp-quick-read reads a cluster from the project's cloud MCP server once the graph
has seen that read answer quickly (its earlier runs unrecorded), so that the step
runs as a local activity.
`python -m tests.histories.record s1-followup` records only the ones named.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowHandle

from orchestrator.agents.faults import Fault
from orchestrator.devserver import DevServer, free_port
from orchestrator.models import ApprovalStatus, Decision, Followup, OrchestrationRequest
from orchestrator.planning.quick import QUICK_AFTER_RUNS
from orchestrator.settings import Settings
from tests.integration.stack import S1
from tests.mcp.support import cloud_with_prod
from worker.client import connect
from worker.runtime import build_runtime, build_worker
from workflows import search_attributes as sa
from workflows.orchestration import OrchestrationWorkflow

HERE = Path(__file__).parent
Answer = Callable[[WorkflowHandle[Any, Any]], Awaitable[None]]


async def _nothing(_handle: WorkflowHandle[Any, Any]) -> None:
    return None


async def _approve_each(handle: WorkflowHandle[Any, Any]) -> None:
    answered: set[str] = set()
    while len(answered) < 2:
        state = await handle.query(OrchestrationWorkflow.status)
        for target, approval in sorted(state.approvals.items()):
            if approval.status == ApprovalStatus.PENDING and target not in answered:
                await handle.execute_update(
                    OrchestrationWorkflow.approve, Decision(step_id=target, by="golden")
                )
                answered.add(target)
        await asyncio.sleep(0.1)


async def _follow_up(handle: WorkflowHandle[Any, Any]) -> None:
    await handle.execute_update(
        OrchestrationWorkflow.extend, Followup(message="also add a cache service")
    )


SCENARIOS: dict[str, tuple[dict[str, Any], Answer]] = {
    "s1": ({}, _nothing),
    "s5": ({"agent_faults": {"deployment.create": Fault(fail_attempts=1, non_retryable=True)}},
           _nothing),
    "s7": ({"sensitive_capabilities": ["policy.apply"]}, _approve_each),
    "s1-followup": ({"agent_faults": {"deployment.create": Fault(delay_ms=1500)}}, _follow_up),
    "s1-model-planned": ({}, _nothing),
    "mcp-quick-read": ({}, _nothing),
}
# What the request says beyond the message, where it says more.
REQUESTS: dict[str, dict[str, Any]] = {"s1-model-planned": {"plan_by_model": True}}
# Scenarios of another message than S1's, with the runs made before the one recorded.
MESSAGES: dict[str, tuple[str, int]] = {
    "mcp-quick-read": ("cloud get cluster name=prod", QUICK_AFTER_RUNS),
}


def _mcp_config(name: str, directory: Path) -> dict[str, Any]:
    """The settings of a scenario calling the project's cloud MCP server."""
    if name not in MESSAGES:
        return {}
    server = cloud_with_prod(directory)
    (directory / "mcp.json").write_text(json.dumps({"mcpServers": {"cloud": server}}))
    return {"mcp_config": directory / "mcp.json"}


async def _record(client: Client, address: str, name: str) -> None:
    overrides, answer = SCENARIOS[name]
    data = Path(tempfile.mkdtemp())
    settings = Settings(
        temporal_address=address, data_dir=data, task_queue=f"record-{uuid.uuid4()}",
        **overrides, **_mcp_config(name, data),
    )
    message, before = MESSAGES.get(name, (S1, 0))
    runtime = await build_runtime(settings)
    try:
        async with build_worker(client, runtime):
            for i in range(before):
                await client.execute_workflow(
                    OrchestrationWorkflow.run, OrchestrationRequest(message=message),
                    id=f"before-{name}-{i}-{uuid.uuid4()}", task_queue=settings.task_queue)
            await runtime.mirror.flush()  # their outcomes in the graph before the plan
            handle = await client.start_workflow(
                OrchestrationWorkflow.run,
                OrchestrationRequest(message=message, **REQUESTS.get(name, {})),
                id=f"golden-{name}", task_queue=settings.task_queue,
            )
            await answer(handle)
            await handle.result()
            history = await handle.fetch_history()
            (HERE / f"{name}.json").write_text(history.to_json())
    finally:
        await runtime.close()


async def record(names: list[str]) -> None:
    server = DevServer(free_port(), search_attributes=sa.DEFINITIONS)
    await server.start()
    try:
        client = await connect(Settings(temporal_address=server.address))
        for name in names:
            await _record(client, server.address, name)
    finally:
        await server.stop()


if __name__ == "__main__":
    asked = sys.argv[1:] or list(SCENARIOS)
    unknown = [name for name in asked if name not in SCENARIOS]
    if unknown:  # before any server starts: `--help` included
        sys.exit(f"usage: python -m tests.histories.record [{' | '.join(SCENARIOS)}]...\n"
                 + ("" if unknown == ["--help"] else f"unknown: {', '.join(unknown)}"))
    asyncio.run(record(asked))
