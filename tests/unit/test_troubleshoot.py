"""Troubleshooting requests: read by their own rules, the target found through the
graph, planned as inspect -> four diagnoses at once -> fix -> redeploy."""

from __future__ import annotations

import pytest

from orchestrator.agents.catalogue import PLATFORM_AGENTS, PLATFORM_CAPABILITIES
from orchestrator.agents.registry import AgentRegistry
from orchestrator.errors import CannotPlan
from orchestrator.graph.embedded import EmbeddedGraphStore
from orchestrator.models import Limits, Plan
from orchestrator.planning.offline import OfflinePlanner, with_definitions
from orchestrator.planning.troubleshoot import TroubleshootPlanner, read_trouble
from tests.platform_world import deployed, failed_redeploy
from workflows.dag import stages
from workflows.validation import validate_plan

REGISTRY = AgentRegistry(PLATFORM_CAPABILITIES, PLATFORM_AGENTS)
S3 = "My application is failing in staging, fix it"
DIAGNOSES = ["diagnose-deployment-logs", "diagnose-environment-resources",
             "diagnose-policy-compliance", "diagnose-service-health"]


@pytest.mark.parametrize(("message", "environment"), [
    (S3, "staging"),
    ("fix the payment service in production", "production"),
    ("ecommerce is broken in staging, repair it", "staging"),
    ("troubleshoot my app in staging", "staging"),
    ("shop is down on prod", "production"),
    ("diagnose ecommerce", None),
])
def test_read_trouble_recognises_repair_requests(message: str, environment: str | None
                                                 ) -> None:
    request = read_trouble(message)
    assert request is not None and request.environment == environment


@pytest.mark.parametrize("message", [
    "create application shop with payment service",
    "deploy ecommerce to staging",
    "deploy the failed build of shop to staging",
    "create application ecommerce, deploy to production with monitoring policy",
])
def test_read_trouble_leaves_requests_to_make_things(message: str) -> None:
    assert read_trouble(message) is None


async def _plan(store: EmbeddedGraphStore, message: str) -> Plan:
    return await TroubleshootPlanner(REGISTRY, store).plan(message)


async def _staging(store: EmbeddedGraphStore) -> str:
    """ecommerce and blog deployed to staging; ecommerce's later redeploy failed."""
    await deployed(store, "ecommerce", "staging", ("payment",))
    await deployed(store, "blog", "staging")
    return await failed_redeploy(store, "ecommerce", "staging")


async def test_s3_plans_diagnoses_in_parallel_then_fix_then_redeploy(
    store: EmbeddedGraphStore,
) -> None:
    await _staging(store)
    plan = await _plan(store, S3)
    steps = {s.id: s for s in plan.steps}
    assert plan.intent == "troubleshoot deployment ecommerce-staging"
    assert stages(plan.steps) == [["inspect"], DIAGNOSES, ["fix"], ["redeploy"]]
    assert all(steps[d].depends_on == ["inspect"] for d in DIAGNOSES)
    assert steps["fix"].depends_on == DIAGNOSES
    assert steps["redeploy"].depends_on == ["fix"]
    assert steps["inspect"].parameters == {"deployment": "ecommerce-staging"}
    assert steps["diagnose-service-health"].parameters["inspection"] == "${steps.inspect.output}"
    assert steps["fix"].parameters["findings"]["policy_compliance"] == (
        "${steps.diagnose-policy-compliance.output}")
    assert steps["redeploy"].parameters == {
        "application": "ecommerce", "environment": "staging",
        "reason": "${steps.fix.output.summary}",
    }
    assert steps["fix"].compensation and steps["redeploy"].compensation
    assert all(steps[d].compensation is None for d in ["inspect", *DIAGNOSES])
    assert validate_plan(with_definitions(plan, REGISTRY), Limits()) == []


@pytest.mark.parametrize(("message", "target"), [
    ("fix the payment service in production", "ecommerce-production"),
    ("ecommerce is broken in staging, repair it", "ecommerce-staging"),
    ("troubleshoot my app in staging", "ecommerce-staging"),
    ("the blog application is failing on prod, please fix it", "blog-production"),
])
async def test_rewordings_find_their_failing_deployment(
    store: EmbeddedGraphStore, message: str, target: str
) -> None:
    await _staging(store)
    await deployed(store, "ecommerce", "production")
    await deployed(store, "blog", "production")
    await failed_redeploy(store, "ecommerce", "production")
    await failed_redeploy(store, "blog", "production")
    plan = await _plan(store, message)
    assert plan.intent == f"troubleshoot deployment {target}"


async def test_offline_planner_hands_troubleshooting_to_its_reader(
    store: EmbeddedGraphStore,
) -> None:
    await _staging(store)
    planner = OfflinePlanner(REGISTRY, store)
    assert (await planner.plan(S3)).intent == "troubleshoot deployment ecommerce-staging"
    made = await planner.plan("create application shop")
    assert [s.capability for s in made.steps] == ["application.create"]


async def test_refuses_when_nothing_deployed_there_is_failing(store: EmbeddedGraphStore
                                                              ) -> None:
    await deployed(store, "ecommerce", "staging", ("payment",))
    with pytest.raises(CannotPlan) as refused:
        await _plan(store, S3)
    assert refused.value.reason == (
        "nothing deployed to staging is failing (ecommerce-staging is healthy)")
    assert str(refused.value).startswith("cannot plan: nothing deployed to staging is failing")


async def test_refuses_when_nothing_is_deployed_there(store: EmbeddedGraphStore) -> None:
    await _staging(store)
    with pytest.raises(CannotPlan, match="there is no environment 'development'"):
        await _plan(store, "my application is failing in development, fix it")
    with pytest.raises(CannotPlan, match="names nothing to fix"):
        await _plan(store, "fix it")
    with pytest.raises(CannotPlan) as refused:
        await _plan(store, "fix the checkout service in staging")
    assert refused.value.reason == ("nothing deployed to staging is failing: nothing it "
                                    "names is deployed there")


async def test_refusals_name_a_missing_environment_and_where_things_are_deployed(
    store: EmbeddedGraphStore,
) -> None:
    await _staging(store)
    await deployed(store, "checkout", "production")
    await failed_redeploy(store, "checkout", "production")
    with pytest.raises(CannotPlan) as refused:
        await _plan(store, "fix my application in qa")
    assert refused.value.reason == (
        "there is no environment 'qa' (the graph holds production, staging)")
    assert refused.value.understood == []
    with pytest.raises(CannotPlan) as refused:
        await _plan(store, "fix checkout in staging")
    assert refused.value.reason == (
        "nothing deployed to staging is failing: no application it names is deployed to "
        "staging (checkout-production is in production)")


async def test_refuses_to_choose_between_failing_deployments(store: EmbeddedGraphStore
                                                             ) -> None:
    await _staging(store)
    await failed_redeploy(store, "blog", "staging")
    with pytest.raises(CannotPlan, match=r"several failing deployments match "
                                         r"\(blog-staging, ecommerce-staging\)"):
        await _plan(store, "troubleshoot my apps in staging")


@pytest.mark.parametrize(("message", "fixes"), [
    ("why is my application failing in staging?", False),
    ("what is wrong with ecommerce in staging", False),
    ("diagnose ecommerce in staging", False),
    ("why does ecommerce fail in staging?", False),
    ("ecommerce crashed on staging", False),
    ("ecommerce is failing in staging: why? fix it", True),
    (S3, True),
    # A report is not a request to change anything.
    ("ecommerce is down on staging", False),
    ("my application is failing in staging", False),
])
async def test_only_a_request_to_fix_changes_anything(
    store: EmbeddedGraphStore, message: str, fixes: bool
) -> None:
    await _staging(store)
    await deployed(store, "shop", "production")
    await failed_redeploy(store, "shop", "production")
    plan = await _plan(store, message)
    if fixes:
        assert stages(plan.steps)[-2:] == [["fix"], ["redeploy"]]
        assert plan.intent.startswith("troubleshoot deployment ")
    else:
        assert stages(plan.steps) == [["inspect"], DIAGNOSES]
        assert plan.intent == "diagnose deployment ecommerce-staging"
        assert all(s.compensation is None for s in plan.steps)
