"""A tool's own `timeout_ms` where its server's does not fit it: one slow tool
among quick ones. Real server-everything, its long-running operation, on the
real dev server: longer than the server's timeout and given more, it completes;
given less than it needs, its step fails naming the tool's timeout."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.client import Client

from orchestrator.devserver import DevServer
from orchestrator.models import RunResult, RunStatus, StepStatus
from tests.integration.stack import Stack, mcp_stack, run_waited
from tests.mcp.support import ensure_npm_servers, node_server

SLOW = "trigger-long-running-operation"
ONCE = {"max_attempts": 1}


@pytest.fixture
async def stack(
    client: Client, temporal_server: DevServer, tmp_path: Path
) -> AsyncIterator[Stack]:
    ensure_npm_servers()
    servers = {
        # Quick tools, and one that may take 10 s.
        "patient": {**node_server("server-everything"), "orchestrator": {
            "sensitive": False, "retry": ONCE, "timeout_ms": 1500,
            "tools": {SLOW: {"timeout_ms": 10_000}}}},
        # Time enough for any tool but this one.
        "hasty": {**node_server("server-everything"), "orchestrator": {
            "sensitive": False, "retry": ONCE, "timeout_ms": 30_000,
            "tools": {SLOW: {"timeout_ms": 1500}}}},
        # Tried again, after a while.
        "retrying": {**node_server("server-everything"), "orchestrator": {
            "sensitive": False, "retry": {"initial_interval_ms": 4000, "max_attempts": 2},
            "tools": {SLOW: {"timeout_ms": 2500}}}},
    }
    async with mcp_stack(client, temporal_server.address, tmp_path, servers) as s:
        yield s




async def test_a_tools_own_timeout_overrides_its_servers(stack: Stack) -> None:
    patient = await run_waited(stack, "patient long running operation duration=3 steps=3")
    assert patient.status == RunStatus.COMPLETED, patient.problem
    [step] = patient.steps.values()
    assert step.agent == "mcp-patient"

    hasty = await run_waited(stack, "hasty long running operation duration=3 steps=3")
    assert hasty.status == RunStatus.ROLLED_BACK, hasty  # nothing done to undo
    [step] = hasty.steps.values()
    assert step.status == StepStatus.FAILED
    assert step.error == "mcp-hasty did not finish within 1500 ms (its timeout)", step.error
    assert step.finished_at and step.started_at
    assert (step.finished_at - step.started_at).total_seconds() < 2.5


async def test_a_retry_waiting_to_start_shows_no_progress_of_the_attempt_before(
    stack: Stack,
) -> None:
    # Attempt 1 reports 1/5, 2/5 and stops at its timeout; attempt 2 waits 4 s.
    reply = await stack.http.post("/v3/ai/chat", json={
        "message": "retrying long running operation duration=5 steps=5"})
    assert reply.status_code == 200, reply.text
    wf = reply.json()["workflow_id"]
    seen: list[tuple[str | None, str | None]] = []
    async with asyncio.timeout(20):
        while True:
            state = RunResult.model_validate((await stack.http.get(f"/v1/workflows/{wf}")).json())
            [step] = state.steps.values()
            seen.append((step.error, step.progress))
            if step.error and step.error.startswith("attempt 1 failed"):
                break
            await asyncio.sleep(0.1)
    assert any(progress for _, progress in seen), seen  # attempt 1 did report some
    assert step.progress is None, seen
    await stack.http.post(f"/v1/workflows/{wf}/cancel")
