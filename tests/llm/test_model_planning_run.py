"""A run a model plans answers queries, and takes a cancel, while the model is slow.

The model's answer is held for seconds. Planned inside the run's workflow task, a
query of the run waited for that task (up to its heartbeat, 8 s); planned as an
activity of its own, it is answered at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from temporalio.client import Client

from orchestrator.devserver import DevServer
from orchestrator.models import RunResult, RunStatus
from tests.integration.stack import S1, Stack, result_of, running_stack, state_of
from tests.llm.fake_openai import FakeOpenAi
from tests.llm.support import KEY, S1_ANSWER, S1_SHAPE, answer, shape

# Far below the 8 s a query waited for a workflow task held by the planning.
ANSWERED_WITHIN_S = 4.0


@contextlib.asynccontextmanager
async def _planning(
    client: Client, address: str, tmp_path: Path, fake: FakeOpenAi, delay_s: float, key: str
) -> AsyncIterator[tuple[Stack, asyncio.Task[httpx.Response]]]:
    """A stack whose model answers S1 after `delay_s`, and S1 sent with `key` in the
    background (answered once the run is planned), yielded once the model has it."""
    fake.script = [dataclasses.replace(answer(S1_ANSWER), delay_s=delay_s)]
    async with running_stack(client, address, tmp_path, openai_base_url=fake.url,
                             openai_api_key=KEY, openai_timeout_s=30.0) as s:
        chat = asyncio.create_task(s.http.post(
            "/v3/ai/chat", json={"message": S1}, headers={"Idempotency-Key": key}))
        async with asyncio.timeout(20):
            while not fake.requests:  # noqa: ASYNC110 - filled by the server's thread
                await asyncio.sleep(0.05)
        yield s, chat


async def test_a_run_answers_while_a_slow_model_plans_it(
    client: Client, temporal_server: DevServer, tmp_path: Path, fake_openai: FakeOpenAi
) -> None:
    async with _planning(client, temporal_server.address, tmp_path, fake_openai, 6.0,
                         "slow-plan") as (s, chat):
        async with asyncio.timeout(ANSWERED_WITHIN_S):
            state = await state_of(s.http, "run-slow-plan")
        assert state.status == RunStatus.PLANNING, state
        assert state.plan is None
        # Temporal's view of the planning: the model's first try, nothing failed yet.
        assert state.planning is not None, state
        assert (state.planning.attempt, state.planning.max_attempts) == (1, 3)
        assert state.planning.last_failure is None
        assert not chat.done()  # the model has not answered yet
        reply = await chat
        assert reply.status_code == 200, reply.text
        result = await result_of(client, "run-slow-plan")
    assert result.status == RunStatus.COMPLETED, result.problem
    assert result.plan is not None and result.plan.planner == "llm"
    assert shape(result.plan) == S1_SHAPE
    assert len(fake_openai.requests) == 1


async def test_a_cancel_stops_a_run_while_a_model_plans_it(
    client: Client, temporal_server: DevServer, tmp_path: Path, fake_openai: FakeOpenAi
) -> None:
    async with _planning(client, temporal_server.address, tmp_path, fake_openai, 20.0,
                         "cancelled-plan") as (s, chat):
        async with asyncio.timeout(ANSWERED_WITHIN_S):
            reply = await s.http.post("/v1/workflows/run-cancelled-plan/cancel")
        assert reply.status_code == 200, reply.text
        async with asyncio.timeout(15):  # well before the model answers
            result: RunResult = await result_of(client, "run-cancelled-plan")
            told = await chat
        # The request waited for the plan: it is answered with the run's end.
        assert told.status_code == 200, told.text
        assert told.json()["status"] == "cancelled", told.text
    assert result.status == RunStatus.CANCELLED, result.problem
    assert result.problem is not None
    assert result.problem.message == "the run was cancelled while planning"
    assert result.plan is None and not result.steps
