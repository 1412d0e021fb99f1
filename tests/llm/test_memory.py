"""Plan memory: similar requests that ran to completion reach the model; others not."""

from __future__ import annotations

from orchestrator.graph.embedded import EmbeddedGraphStore
from orchestrator.models import Plan, RunRecord, RunStatus
from orchestrator.planning.memory import GraphPlanMemory, closeness, shape
from tests.integration.stack import S1
from tests.llm.fake_openai import FakeOpenAi
from tests.llm.support import S1_ANSWER, answer, llm_planner

SIMILAR = ("Create application shop with billing service, deploy to staging with "
           "monitoring and security policies")


async def _remember(store: EmbeddedGraphStore, wf: str, request: str, status: RunStatus
                    ) -> None:
    plan = Plan(intent=f"intent of {wf}", request=request, steps=[])
    await store.record_run(RunRecord(workflow_id=wf, request=request, status=status, plan=plan))


def test_closeness_compares_what_is_asked_not_the_names() -> None:
    assert closeness(shape(S1), shape(SIMILAR)) == 1.0
    # Counted: S1 asks for five things (two of them policies), this for one of them.
    assert closeness(shape(S1), shape("create application shop")) == 0.2
    one_policy = S1.replace("monitoring and security policies", "a monitoring policy")
    assert closeness(shape(S1), shape(one_policy)) == 0.8
    assert closeness(shape("make me a sandwich"), shape(S1)) == 0.0


async def test_only_close_completed_plans_are_recalled(store: EmbeddedGraphStore) -> None:
    await _remember(store, "wf-done", S1, RunStatus.COMPLETED)
    await _remember(store, "wf-failed", SIMILAR, RunStatus.ROLLED_BACK)
    await _remember(store, "wf-small", "create application tiny", RunStatus.COMPLETED)
    recalled = await GraphPlanMemory(store).recall(SIMILAR)
    assert [p.request for p in recalled] == [S1]


async def test_the_model_is_shown_a_similar_past_request(
    fake_openai: FakeOpenAi, store: EmbeddedGraphStore
) -> None:
    await _remember(store, "wf-done", SIMILAR, RunStatus.COMPLETED)
    fake_openai.script = [answer(S1_ANSWER)]
    async with llm_planner(fake_openai, store) as planner:
        await planner.plan(S1)
    [request] = fake_openai.requests
    sent = "\n".join(str(m["content"]) for m in request.messages)
    assert "similar_past_requests" in sent and "billing" in sent
