"""With a model configured, a troubleshooting request is still read by the graph:
the model is not asked, and the plan diagnoses before it fixes."""

from __future__ import annotations

from orchestrator.graph.embedded import EmbeddedGraphStore
from tests.llm.fake_openai import FakeOpenAi
from tests.llm.support import S1_ACTIONS, S1_ANSWER, answer, llm_planner, with_actions
from tests.platform_world import deployed, failed_redeploy


async def test_a_failing_deployment_is_troubleshot_without_the_model(
    fake_openai: FakeOpenAi, store: EmbeddedGraphStore
) -> None:
    await deployed(store, "ecommerce", "staging", ("payment",))
    await failed_redeploy(store, "ecommerce", "staging")
    # Were the model asked, it would answer with things to make.
    fake_openai.script = [answer(S1_ANSWER)]
    async with llm_planner(fake_openai, store) as planner:
        plan = await planner.plan("My application is failing in staging, fix it")
    assert fake_openai.requests == []
    assert plan.planner == "offline" and plan.fallback_reason is None
    assert plan.intent == "troubleshoot deployment ecommerce-staging"
    fix = next(s for s in plan.steps if s.capability == "remediation.fix")
    assert sorted(fix.depends_on) == sorted(
        s.id for s in plan.steps if s.capability.startswith("diagnosis.")
        and s.capability != "diagnosis.inspect")


async def test_other_requests_still_go_to_the_model(
    fake_openai: FakeOpenAi, store: EmbeddedGraphStore
) -> None:
    fake_openai.script = [answer(with_actions(*S1_ACTIONS[:2]))]
    async with llm_planner(fake_openai, store) as planner:
        plan = await planner.plan("create application ecommerce with payment service")
    assert len(fake_openai.requests) == 1 and plan.planner == "llm"
