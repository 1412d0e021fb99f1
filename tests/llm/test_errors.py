"""Failures of the model service, as Temporal will see them."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

import pytest

from activities.errors import to_application_error
from orchestrator.devserver import free_port
from orchestrator.errors import CannotPlan, OrchestratorError, RetryLater, TransientFailure
from orchestrator.graph.embedded import EmbeddedGraphStore
from orchestrator.planning.llm.errors import retry_after
from orchestrator.planning.llm.planner import LlmPlanner
from orchestrator.settings import Settings
from tests.integration.stack import S1
from tests.llm.fake_openai import FakeOpenAi, Reply, error
from tests.llm.support import REGISTRY, llm_planner

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


async def _failure(fake: FakeOpenAi, store: EmbeddedGraphStore, timeout_s: float = 5.0
                   ) -> OrchestratorError:
    async with llm_planner(fake, store, openai_timeout_s=timeout_s) as planner:
        with pytest.raises(OrchestratorError) as caught:
            await planner.plan(S1)
    return caught.value


async def test_plan_rate_limited_retries_after_the_servers_delay(
    fake_openai: FakeOpenAi, store: EmbeddedGraphStore
) -> None:
    fake_openai.script = [error(429, {"retry-after": "2"})]
    failure = await _failure(fake_openai, store)
    assert isinstance(failure, RetryLater) and failure.delay == timedelta(seconds=2)
    temporal = to_application_error(failure)
    assert not temporal.non_retryable
    assert temporal.next_retry_delay == timedelta(seconds=2)
    assert temporal.type == "RetryLater"
    # The SDK's own retries are off: Temporal makes every further attempt.
    assert len(fake_openai.requests) == 1


@pytest.mark.parametrize("status", [408, 409, 500, 503])
async def test_plan_transient_status_is_retryable_with_the_policys_backoff(
    fake_openai: FakeOpenAi, store: EmbeddedGraphStore, status: int
) -> None:
    fake_openai.script = [error(status)]
    failure = await _failure(fake_openai, store)
    assert type(failure) is TransientFailure
    temporal = to_application_error(failure)
    assert not temporal.non_retryable and temporal.next_retry_delay is None
    assert len(fake_openai.requests) == 1


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
async def test_plan_other_client_errors_leave_the_plan_to_the_rules_at_once(
    fake_openai: FakeOpenAi, store: EmbeddedGraphStore, status: int
) -> None:
    fake_openai.script = [error(status, {"retry-after": "2"})] * 2
    async with llm_planner(fake_openai, store) as planner:
        plan = await planner.plan(S1)
        assert plan.planner == "offline" and len(plan.steps) == 6
        assert (plan.fallback_reason or "").startswith(f"the model service answered HTTP {status}")
        assert len(fake_openai.requests) == 1
        # Neither reader plans it: refused for good, with both reasons.
        with pytest.raises(CannotPlan) as caught:
            await planner.plan("bake a cake")
    assert f"HTTP {status}" in str(caught.value)
    assert to_application_error(caught.value).non_retryable
    assert len(fake_openai.requests) == 2


@pytest.mark.parametrize("reply", [
    Reply(body="<html>502 Bad Gateway</html>", headers={"content-type": "text/html"}),
    Reply(body="<html>502 Bad Gateway</html>"),  # said to be JSON
    Reply(body='{"id": "chatcmpl-1", "choices": [{"mess'),  # cut off
])
async def test_a_body_that_is_no_chat_completion_is_retryable_then_left_to_the_rules(
    fake_openai: FakeOpenAi, store: EmbeddedGraphStore, reply: Reply
) -> None:
    fake_openai.script = [reply, reply]
    failure = await _failure(fake_openai, store)
    assert type(failure) is TransientFailure, failure
    assert "not a chat completion" in str(failure)
    # Most often an address that is not the API's: it is named, to be checked.
    assert f"the model service at {fake_openai.url}" in str(failure)
    assert not to_application_error(failure).non_retryable
    async with llm_planner(fake_openai, store) as planner:
        plan = await planner.plan(S1, last_try=True)
    assert plan.planner == "offline" and len(plan.steps) == 6
    assert "not a chat completion" in (plan.fallback_reason or "")


async def test_plan_slow_answer_times_out_retryable(
    fake_openai: FakeOpenAi, store: EmbeddedGraphStore
) -> None:
    fake_openai.script = [Reply(delay_s=3.0)]
    started = time.monotonic()
    failure = await _failure(fake_openai, store, timeout_s=0.3)
    assert time.monotonic() - started < 2.0
    assert type(failure) is TransientFailure
    assert str(failure) == "the model did not answer within 0.3 s"
    assert not to_application_error(failure).non_retryable
    assert len(fake_openai.requests) == 1


async def test_plan_unreachable_model_is_retryable(store: EmbeddedGraphStore) -> None:
    nowhere = Settings(openai_base_url=f"http://127.0.0.1:{free_port()}/v1",
                       openai_timeout_s=5.0)
    planner = LlmPlanner.from_settings(nowhere, REGISTRY, store)
    try:
        # Where it tried: the SDK's own message is only "Connection error.".
        at = re.escape(f"cannot reach the model service at {nowhere.openai_base_url}/chat/")
        with pytest.raises(TransientFailure, match=at):
            await planner.plan(S1)
    finally:
        await planner.close()


@pytest.mark.parametrize(("headers", "delay"), [
    ({"retry-after": "2"}, timedelta(seconds=2)),
    ({"retry-after": "0.5"}, timedelta(seconds=0.5)),
    ({"retry-after-ms": "1500", "retry-after": "9"}, timedelta(milliseconds=1500)),
    ({"retry-after": "Thu, 01 Jan 2026 12:00:07 GMT"}, timedelta(seconds=7)),
    ({"retry-after": "Thu, 01 Jan 2026 11:59:00 GMT"}, None),  # already past
    ({"retry-after": "soon"}, None),
    ({"retry-after": "nan"}, None),
    ({"retry-after": "-3"}, None),
    ({"retry-after": "86400"}, timedelta(minutes=5)),  # capped
    ({}, None),
])
def test_retry_after_reads_seconds_milliseconds_and_dates(
    headers: dict[str, str], delay: timedelta | None
) -> None:
    assert retry_after(headers, NOW) == delay
