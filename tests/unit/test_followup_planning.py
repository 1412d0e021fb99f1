"""Follow-ups planned with a conversation's entities, and merged into a running plan."""

from __future__ import annotations

import pytest

from orchestrator.agents.catalogue import PLATFORM_AGENTS, PLATFORM_CAPABILITIES
from orchestrator.agents.registry import AgentRegistry
from orchestrator.errors import CannotPlan
from orchestrator.graph.embedded import EmbeddedGraphStore
from orchestrator.models import EntityRef, Limits
from orchestrator.planning.conversation import conversation_entities
from orchestrator.planning.offline import OfflinePlanner, with_definitions
from tests.integration.stack import S1
from workflows.extension import made_by, merge
from workflows.validation import validate_plan

REGISTRY = AgentRegistry(PLATFORM_CAPABILITIES, PLATFORM_AGENTS)


def _ref(kind: str, name: str) -> EntityRef:
    return EntityRef(kind=kind, name=name)


async def test_followup_takes_the_application_of_the_conversation(
    store: EmbeddedGraphStore,
) -> None:
    planner = OfflinePlanner(REGISTRY, store)
    context = conversation_entities(await planner.plan(S1))
    assert _ref("application", "ecommerce") in context
    plan = await planner.plan("also add a cache service", context)
    assert [(s.capability, s.parameters) for s in plan.steps] == [
        ("application.create", {"name": "ecommerce"}),
        ("service.create", {"application": "${steps.create-application-ecommerce.output"
                                            ".application}", "name": "cache"}),
    ]
    # A deployment the run is still making counts as there: no step makes it again.
    making = made_by(with_definitions(await planner.plan(S1), REGISTRY))
    policy = await planner.plan("also add an audit policy", context, making)
    assert [(s.capability, s.parameters) for s in policy.steps] == [
        ("policy.apply", {"deployment": "ecommerce-production", "policy": "audit"})
    ]
    with pytest.raises(CannotPlan, match="deployment ecommerce-production, which does not"):
        await planner.plan("also add an audit policy", context)


async def test_followup_refuses_to_guess_between_applications(
    store: EmbeddedGraphStore,
) -> None:
    planner = OfflinePlanner(REGISTRY, store)
    context = [_ref("application", "shop"), _ref("application", "ecommerce")]
    with pytest.raises(CannotPlan, match=r"which application\? ecommerce or shop"):
        await planner.plan("also add a cache service", context)
    with pytest.raises(CannotPlan, match="I need to know its application"):
        await planner.plan("also add a cache service")
    # Named, it needs no context.
    plan = await planner.plan("also add a cache service for shop", context)
    assert plan.steps[-1].parameters["application"] == (
        "${steps.create-application-shop.output.application}"
    )


async def test_merge_reuses_the_runs_steps_and_wires_their_outputs(
    store: EmbeddedGraphStore,
) -> None:
    planner = OfflinePlanner(REGISTRY, store)
    running = with_definitions(await planner.plan(S1), REGISTRY)
    context = conversation_entities(running.plan)
    followup = with_definitions(await planner.plan(
        "also add cache and payment services", context, made_by(running)
    ), REGISTRY)
    merged, added = merge(running, followup)
    # The payment service is the run's own step already.
    assert [s.id for s in added] == ["create-service-cache"]
    assert added[0].depends_on == ["create-application-ecommerce"]
    assert added[0].parameters["application"] == (
        "${steps.create-application-ecommerce.output.application}"
    )
    assert added[0].compensation is not None
    assert added[0].compensation.parameters["owner"] == (
        "${steps.create-service-cache.output.owner}"
    )
    assert len(merged.plan.steps) == len(running.plan.steps) + 1
    assert validate_plan(merged, Limits()) == []
    assert validate_plan(merged, Limits(max_steps=6)) == [
        "the plan has 7 steps; the budget allows 6"
    ]


async def test_merge_gives_a_repeated_id_a_new_one(store: EmbeddedGraphStore) -> None:
    planner = OfflinePlanner(REGISTRY, store)
    running = with_definitions(await planner.plan("create application shop"), REGISTRY)
    # Another entity whose step would take the same id as one of the run's.
    renamed = running.plan.steps[0].model_copy(update={
        "parameters": {"name": "blog"}, "operates_on": [_ref("application", "blog")],
    })
    followup = running.model_copy(update={
        "plan": running.plan.model_copy(update={"steps": [renamed]})
    })
    merged, added = merge(running, followup)
    assert [s.id for s in added] == ["create-application-shop-2"]
    assert [s.id for s in merged.plan.steps] == ["create-application-shop",
                                                 "create-application-shop-2"]
    assert added[0].compensation is not None
    assert added[0].compensation.parameters["owner"] == (
        "${steps.create-application-shop-2.output.owner}"
    )


async def test_merge_wires_a_policy_to_the_runs_deployment(store: EmbeddedGraphStore) -> None:
    planner = OfflinePlanner(REGISTRY, store)
    running = with_definitions(await planner.plan(S1), REGISTRY)
    followup = with_definitions(await planner.plan(
        "also add an audit policy", conversation_entities(running.plan), made_by(running)
    ), REGISTRY)
    _, added = merge(running, followup)
    assert [(s.id, s.depends_on) for s in added] == [
        ("apply-policy-audit", ["deploy-deployment-ecommerce-production"])
    ]
    assert added[0].parameters == {
        "deployment": "${steps.deploy-deployment-ecommerce-production.output.deployment}",
        "policy": "audit",
    }


async def test_a_followup_deploy_of_it_waits_for_the_runs_services(
    store: EmbeddedGraphStore,
) -> None:
    planner = OfflinePlanner(REGISTRY, store)
    running = with_definitions(
        await planner.plan("create application ext1 with slow service"), REGISTRY
    )
    followup = with_definitions(await planner.plan(
        "also deploy it to staging", conversation_entities(running.plan), made_by(running)
    ), REGISTRY)
    # Named as "deploy ext1 to staging" names it: after the application.
    deploy = followup.plan.steps[-1]
    assert deploy.id == "deploy-deployment-ext1-staging"
    assert _ref("deployment", "ext1-staging") in deploy.operates_on
    _, added = merge(running, followup)
    assert [(s.id, s.depends_on) for s in added] == [
        ("ensure-environment-staging", []),
        ("deploy-deployment-ext1-staging",
         ["create-application-ext1", "create-service-slow", "ensure-environment-staging"]),
    ]
    # A run extended before the rule replays as it ran.
    _, as_before = merge(running, followup, wait_for_makers=False)
    assert "create-service-slow" not in as_before[-1].depends_on


async def test_a_deployment_yet_to_start_waits_for_a_service_the_followup_adds(
    store: EmbeddedGraphStore,
) -> None:
    planner = OfflinePlanner(REGISTRY, store)
    running = with_definitions(
        await planner.plan("create application zeta with zsvc service, deploy to staging"),
        REGISTRY,
    )
    followup = with_definitions(await planner.plan(
        "also add a cache service", conversation_entities(running.plan), made_by(running)
    ), REGISTRY)
    deploy = "deploy-deployment-zeta-staging"
    merged, added = merge(running, followup, not_started={deploy})
    assert [s.id for s in added] == ["create-service-cache"]
    waits = {s.id: s.depends_on for s in merged.plan.steps}
    assert "create-service-cache" in waits[deploy]
    assert validate_plan(merged, Limits()) == []
    # Once started it cannot wait any more; and runs extended before, as they ran.
    for started in (merge(running, followup)[0], merge(running, followup, False)[0]):
        assert "create-service-cache" not in {s.id: s.depends_on
                                              for s in started.plan.steps}[deploy]
