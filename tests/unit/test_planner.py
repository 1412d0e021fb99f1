"""The offline planner: actions from text, order from what capabilities consume and produce."""

from __future__ import annotations

import pytest

from orchestrator.agents.catalogue import PLATFORM_AGENTS, PLATFORM_CAPABILITIES
from orchestrator.agents.registry import AgentRegistry
from orchestrator.errors import CannotPlan
from orchestrator.graph.embedded import EmbeddedGraphStore
from orchestrator.models import Agent, AgentKind, Capability, EntityRef, Plan
from orchestrator.planning.offline import OfflinePlanner, with_definitions
from orchestrator.planning.parser import Action
from orchestrator.planning.synthesis import Synthesiser
from tests.integration.stack import S1
from workflows.dag import stages

REGISTRY = AgentRegistry(PLATFORM_CAPABILITIES, PLATFORM_AGENTS)


def _shape(plan: Plan) -> dict[str, list[str]]:
    return {s.id: s.depends_on for s in plan.steps}


S1_SHAPE = {
    "create-application-ecommerce": [],
    "create-service-payment": ["create-application-ecommerce"],
    "ensure-environment-production": [],
    "deploy-deployment-ecommerce-production": [
        "create-application-ecommerce", "create-service-payment", "ensure-environment-production"
    ],
    "apply-policy-monitoring": ["deploy-deployment-ecommerce-production"],
    "apply-policy-security": ["deploy-deployment-ecommerce-production"],
}


async def test_plan_s1_has_six_steps_in_four_stages(store: EmbeddedGraphStore) -> None:
    plan = await OfflinePlanner(REGISTRY, store).plan(S1)
    assert _shape(plan) == S1_SHAPE
    assert stages(plan.steps) == [
        ["create-application-ecommerce", "ensure-environment-production"],
        ["create-service-payment"],
        ["deploy-deployment-ecommerce-production"],
        ["apply-policy-monitoring", "apply-policy-security"],
    ]
    monitoring = next(s for s in plan.steps if s.id == "apply-policy-monitoring")
    assert monitoring.parameters == {
        "deployment": "${steps.deploy-deployment-ecommerce-production.output.deployment}",
        "policy": "monitoring",
    }
    assert monitoring.compensation is not None
    assert monitoring.compensation.capability == "policy.remove"
    assert monitoring.compensation.parameters["owner"] == (
        "${steps.apply-policy-monitoring.output.owner}"
    )


@pytest.mark.parametrize("message", [
    "Deploy ecommerce to production with security and monitoring policies, "
    "after creating application ecommerce with a payment service",
    "create app ecommerce, add a payment service, and then deploy it to prod "
    "with monitoring and security policies",
    "New application called ecommerce with service payment. Deploy to production. "
    "Apply monitoring policy and security policy.",
])
async def test_plan_rewordings_of_s1_have_the_same_shape(
    store: EmbeddedGraphStore, message: str
) -> None:
    plan = await OfflinePlanner(REGISTRY, store).plan(message)
    assert _shape(plan) == S1_SHAPE


async def test_plan_reuses_an_existing_application(store: EmbeddedGraphStore) -> None:
    await store.claim_entity(EntityRef(kind="application", name="shop"), "earlier/run", {})
    plan = await OfflinePlanner(REGISTRY, store).plan("add a payment service for shop")
    assert _shape(plan) == {"create-service-payment": []}
    assert plan.steps[0].parameters == {"application": "shop", "name": "payment"}


async def test_plan_inserts_a_missing_producer(store: EmbeddedGraphStore) -> None:
    plan = await OfflinePlanner(REGISTRY, store).plan("add a payment service for shop")
    assert _shape(plan) == {
        "create-application-shop": [],
        "create-service-payment": ["create-application-shop"],
    }


async def test_plan_validates_an_existing_environment(store: EmbeddedGraphStore) -> None:
    await store.claim_entity(EntityRef(kind="environment", name="staging"), "", {})
    await store.claim_entity(EntityRef(kind="application", name="shop"), "", {})
    plan = await OfflinePlanner(REGISTRY, store).plan("deploy shop to staging")
    assert _shape(plan) == {
        "ensure-environment-staging": [],
        "deploy-deployment-shop-staging": ["ensure-environment-staging"],
    }


async def test_plan_creates_an_application_a_deploy_needs(store: EmbeddedGraphStore) -> None:
    plan = await OfflinePlanner(REGISTRY, store).plan("deploy shop to staging")
    assert _shape(plan) == {
        "create-application-shop": [],
        "ensure-environment-staging": [],
        "deploy-deployment-shop-staging": [
            "create-application-shop", "ensure-environment-staging"
        ],
    }


async def test_plan_refuses_a_policy_without_a_deployment(store: EmbeddedGraphStore) -> None:
    with pytest.raises(CannotPlan, match="apply policy security I need to know its deployment"):
        await OfflinePlanner(REGISTRY, store).plan("create application shop with security policy")


@pytest.mark.parametrize(("message", "understood", "unknown"), [
    ("make me a sandwich", [], ["sandwich"]),
    ("create application shop and order a pizza", ["create application shop"],
     ["order", "pizza"]),
    ("", [], []),
])
async def test_plan_refuses_what_it_does_not_understand(
    store: EmbeddedGraphStore, message: str, understood: list[str], unknown: list[str]
) -> None:
    with pytest.raises(CannotPlan) as refused:
        await OfflinePlanner(REGISTRY, store).plan(message)
    assert refused.value.understood == understood
    assert refused.value.not_understood == unknown
    assert str(refused.value).startswith("cannot plan:")


async def test_definitions_include_compensations(store: EmbeddedGraphStore) -> None:
    plan = await OfflinePlanner(REGISTRY, store).plan("create application shop")
    planned = with_definitions(plan, REGISTRY)
    assert sorted(planned.capabilities) == ["application.create", "application.delete"]
    assert sorted(planned.agents) == ["application-agent"]


async def test_plan_deploy_keeps_to_the_capability_whose_parameters_it_fills(
    store: EmbeddedGraphStore,
) -> None:
    # A tool that also makes deployments and shares the verb, but needs a cluster
    # and an app the request never names (the shape of the cloud server's `deploy`).
    tool = Capability(
        name="mcp.aws.deploy", description="Deploy an application version to a cluster.",
        input_schema={"type": "object", "required": ["app", "cluster"], "properties": {
            "app": {"type": "string"}, "cluster": {"type": "string"}}},
        consumes=["repository", "cluster"], produces=["deployment"],
    )
    agent = Agent(id="mcp-aws", kind=AgentKind.MCP, capabilities=[tool.name])
    registry = AgentRegistry([*PLATFORM_CAPABILITIES, tool], [*PLATFORM_AGENTS, agent])
    plan = await OfflinePlanner(registry, store).plan("deploy shop to staging")
    assert [s.capability for s in plan.steps] == [
        "application.create", "environment.ensure", "deployment.create"
    ]


async def test_a_name_in_another_script_is_refused_saying_what_names_take(
    store: EmbeddedGraphStore,
) -> None:
    with pytest.raises(CannotPlan, match=r"names take letters a-z, digits, - and _: not 'café'"):
        await OfflinePlanner(REGISTRY, store).plan("create application café")
    # Characters no name takes are named as such, not as the words they split.
    with pytest.raises(CannotPlan) as refused:
        await OfflinePlanner(REGISTRY, store).plan("create application $(rm -rf /)")
    assert "(names take letters a-z, digits, - and _: not '$', '/')" in refused.value.reason


async def test_an_optional_parameter_nothing_gives_is_left_to_its_default(
    store: EmbeddedGraphStore
) -> None:
    # A capability whose `description` is optional (as an MCP tool's often is).
    repo = Capability(
        name="repository.create", description="Create a repository.", produces=["repository"],
        input_schema={"type": "object", "required": ["name"], "properties": {
            "name": {"type": "string"}, "description": {"type": "string", "default": ""}}},
    )
    registry = AgentRegistry([*PLATFORM_CAPABILITIES, repo], [
        *PLATFORM_AGENTS,
        Agent(id="repository-agent", kind=AgentKind.BUILTIN, capabilities=[repo.name])])
    plan = await Synthesiser(registry, store).synthesise(
        "create repository llmrepo", [Action(verb="create", kind="repository", name="llmrepo")])
    assert [(s.capability, s.parameters) for s in plan.steps] == [
        ("repository.create", {"name": "llmrepo"})]


@pytest.mark.parametrize(("text", "guarded"), [
    ("create application polx, deploy polx to production with a security policy, deploy "
     "polx to staging with a monitoring policy",
     [("security", "polx-production"), ("monitoring", "polx-staging")]),
    ("create application webx, deploy to production with monitoring and security policies "
     "and deploy to staging",
     [("monitoring", "webx-production"), ("security", "webx-production")]),
    ("create applications b1 and b2, deploy b1 to staging with a security policy, deploy b2 "
     "to production with a monitoring policy",
     [("security", "b1-staging"), ("monitoring", "b2-production")]),
    # Of another clause, the nearest deploy, even if named later.
    ("deploy shop to staging, then create app blog with monitoring policy and deploy blog "
     "to production", [("monitoring", "blog-production")]),
])
async def test_a_policy_guards_the_deployment_of_its_own_clause(
    store: EmbeddedGraphStore, text: str, guarded: list[tuple[str, str]],
) -> None:
    """Security put on staging, where production was asked for, would leave
    production unguarded and the run still completed."""
    plan = await OfflinePlanner(REGISTRY, store).plan(text)
    assert [(s.parameters["policy"], e.name) for s in plan.steps
            if s.capability == "policy.apply"
            for e in s.operates_on if e.kind == "deployment"] == guarded


async def test_a_leading_first_or_now_is_read_as_filler(store: EmbeddedGraphStore) -> None:
    for text in ("First create application webx, then deploy it to production",
                 "now create application webx and deploy it to production"):
        plan = await OfflinePlanner(REGISTRY, store).plan(text)
        assert [s.capability for s in plan.steps] == [
            "application.create", "environment.ensure", "deployment.create"], text


async def test_a_policy_with_a_deploy_to_two_environments_guards_both(
    store: EmbeddedGraphStore,
) -> None:
    plan = await OfflinePlanner(REGISTRY, store).plan(
        "create application shop, deploy it to staging and production with monitoring policy")
    policies = [s for s in plan.steps if s.capability == "policy.apply"]
    assert [(s.id, s.depends_on, s.parameters["policy"]) for s in policies] == [
        ("apply-policy-monitoring", ["deploy-deployment-shop-staging"], "monitoring"),
        ("apply-policy-monitoring-2", ["deploy-deployment-shop-production"], "monitoring"),
    ]
    # Asked twice for one deployment, it is done once.
    twice = await OfflinePlanner(REGISTRY, store).plan(
        "deploy shop to staging with monitoring policy and monitoring policy")
    assert [s.id for s in twice.steps if s.capability == "policy.apply"] == [
        "apply-policy-monitoring"]


async def test_a_tool_call_with_no_mcp_server_configured_says_so(
    store: EmbeddedGraphStore,
) -> None:
    with pytest.raises(CannotPlan) as refused:
        await OfflinePlanner(REGISTRY, store).plan("github create repository -> slack notify")
    assert "no MCP server is configured (orchestrator mcp add adds one)" in str(refused.value)
    assert "it offers: nothing" not in str(refused.value)
