"""The LLM planner inside the real workflow, on the session's Temporal dev server."""

from __future__ import annotations

from pathlib import Path

from temporalio.client import Client

from orchestrator.devserver import DevServer
from orchestrator.models import ProblemKind, RunResult, RunStatus
from tests.integration.stack import S1, running_stack
from tests.llm.fake_openai import FakeOpenAi, error
from tests.llm.support import KEY, S1_ANSWER, S1_SHAPE, answer, shape


async def test_rate_limited_plan_is_retried_by_temporal_after_retry_after(
    client: Client, temporal_server: DevServer, tmp_path: Path, fake_openai: FakeOpenAi
) -> None:
    fake_openai.script = [error(429, {"retry-after": "2"}), answer(S1_ANSWER)]
    async with running_stack(client, temporal_server.address, tmp_path,
                             openai_base_url=fake_openai.url, openai_api_key=KEY) as s:
        reply = await s.http.post("/v3/ai/chat", json={"message": S1, "wait": True})
    assert reply.status_code == 200, reply.text
    result = RunResult.model_validate(reply.json()["result"])
    assert result.status == RunStatus.COMPLETED
    assert result.plan is not None and result.plan.planner == "llm"
    assert shape(result.plan) == S1_SHAPE
    refused, accepted = fake_openai.requests
    # The workflow's retry policy alone would try again after 200 ms.
    assert accepted.at - refused.at >= 2.0


async def test_rejected_plan_request_is_not_retried_by_temporal(
    client: Client, temporal_server: DevServer, tmp_path: Path, fake_openai: FakeOpenAi
) -> None:
    fake_openai.script = [error(400), answer(S1_ANSWER)]
    async with running_stack(client, temporal_server.address, tmp_path,
                             openai_base_url=fake_openai.url, openai_api_key=KEY) as s:
        reply = await s.http.post("/v3/ai/chat", json={"message": S1, "wait": True})
    assert reply.status_code == 422, reply.text
    problem = reply.json()["detail"]["problem"]
    assert problem["kind"] == ProblemKind.CANNOT_PLAN
    assert problem["message"].startswith("planning failed: the model service answered HTTP 400")
    # Non-retryable: the workflow's retry policy (3 attempts) made no second request.
    assert len(fake_openai.requests) == 1
