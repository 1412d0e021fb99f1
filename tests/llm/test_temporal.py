"""The LLM planner inside the real workflow, on the session's Temporal dev server."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from temporalio.client import Client

from orchestrator.devserver import DevServer
from orchestrator.models import RunResult, RunStatus
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


async def _s1_and_a_cake(
    client: Client, temporal_server: DevServer, tmp_path: Path, fake_openai: FakeOpenAi
) -> tuple[RunResult, int, str]:
    """S1 (which the rules can plan) with the model failing, then a request neither
    reader can plan: S1's result, the requests the model got for it, the refusal."""
    async with running_stack(client, temporal_server.address, tmp_path,
                             openai_base_url=fake_openai.url, openai_api_key=KEY) as s:
        reply = await s.http.post("/v3/ai/chat", json={"message": S1, "wait": True})
        asked = len(fake_openai.requests)
        unplannable = await s.http.post("/v3/ai/chat", json={"message": "bake a cake"})
    assert reply.status_code == 200, reply.text
    assert unplannable.status_code == 422, unplannable.text
    result = RunResult.model_validate(reply.json()["result"])
    assert result.status == RunStatus.COMPLETED
    assert result.plan is not None and result.plan.planner == "offline"
    assert len(result.plan.steps) == 6
    told: str = unplannable.json()["detail"]
    assert "not understood" in told, told  # what the rules say, and then the model's reason
    return result, asked, told


async def test_a_model_service_refusing_the_key_leaves_the_plan_to_the_rules_at_once(
    client: Client, temporal_server: DevServer, tmp_path: Path, fake_openai: FakeOpenAi
) -> None:
    fake_openai.script = [error(401), error(401), answer(S1_ANSWER)]
    result, asked, told = await _s1_and_a_cake(client, temporal_server, tmp_path, fake_openai)
    assert result.plan is not None
    assert (result.plan.fallback_reason or "").startswith(
        "the model service answered HTTP 401"), result.plan.fallback_reason
    # A refused key does not fix itself: the model was asked once, not once per attempt.
    assert asked == 1
    assert "the model service answered HTTP 401" in told, told


async def test_a_model_service_down_for_every_try_leaves_the_plan_to_the_rules(
    client: Client, temporal_server: DevServer, tmp_path: Path, fake_openai: FakeOpenAi,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    fake_openai.script = [error(503)] * 5
    result, asked, told = await _s1_and_a_cake(client, temporal_server, tmp_path, fake_openai)
    assert result.plan is not None
    assert "the model service answered HTTP 503" in (result.plan.fallback_reason or "")
    # Temporal tried the model on each of the plan's 3 attempts first.
    assert asked == 3
    assert "the model service answered HTTP 5" in told, told
    # Each failed try is told in one line, without Temporal's traceback.
    tried = [r for r in caplog.records if r.getMessage().startswith("planning run-")]
    assert tried and all("(attempt " in r.getMessage() for r in tried)
    assert not [r for r in caplog.records if r.name.startswith("temporalio") and r.exc_info
                and r.levelno >= logging.WARNING]
    # An operator reads which run the rules planned, and how each run ended.
    said = [r.getMessage() for r in caplog.records]
    run = result.workflow_id
    assert [m for m in said if m.startswith(f"run {run} was planned without the model: the "
                                            "model service answered HTTP 503")]
    # The line names its run itself: the SDK's dict of the run's details is left off.
    assert f"run {run} ended completed" in said
    assert [m for m in said if " ended failed: " in m and "not understood" in m]
