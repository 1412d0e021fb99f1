"""Plan reuse: a completed plan renamed for a request of the same structure gives the
plan synthesis would give, and is not used when the structure or the graph differs."""

from __future__ import annotations

from orchestrator.agents.catalogue import PLATFORM_AGENTS, PLATFORM_CAPABILITIES
from orchestrator.agents.registry import AgentRegistry
from orchestrator.graph.embedded import EmbeddedGraphStore
from orchestrator.graph.store import GraphStore
from orchestrator.models import EntityRef, Plan
from orchestrator.planning.offline import OfflinePlanner
from orchestrator.planning.parser import Action
from orchestrator.planning.reuse import renaming
from tests.integration.stack import S1
from tests.plan_runs import carry_out

REGISTRY = AgentRegistry(PLATFORM_CAPABILITIES, PLATFORM_AGENTS)
SIMILAR = ("Create application shop with billing service, deploy to staging with "
           "monitoring and security policies")


async def _remember(store: GraphStore, request: str, workflow_id: str) -> None:
    """Plan the request from scratch and carry it out to completion."""
    plan = await OfflinePlanner(REGISTRY, store, reuse_plans=False).plan(request)
    await carry_out(store, plan, workflow_id)


async def _both(store: GraphStore, request: str) -> tuple[Plan, Plan]:
    """The plan with reuse, and the plan synthesis gives for the same request."""
    reused = await OfflinePlanner(REGISTRY, store).plan(request)
    synthesised = await OfflinePlanner(REGISTRY, store, reuse_plans=False).plan(request)
    return reused, synthesised


def _without_origin(plan: Plan) -> Plan:
    return plan.model_copy(update={"reused_from": None, "reuse_similarity": None})


async def test_reuse_of_s1_equals_synthesis(store: EmbeddedGraphStore) -> None:
    await _remember(store, S1, "wf-s1")
    reused, synthesised = await _both(store, SIMILAR)
    assert (reused.reused_from, reused.reuse_similarity) == ("wf-s1", 1.0)
    assert synthesised.reused_from is None
    assert _without_origin(reused) == synthesised
    assert len(reused.steps) == 6


async def test_reuse_of_the_same_request_keeps_to_todays_graph(store: EmbeddedGraphStore) -> None:
    # The first run inserted "create application shop"; shop exists now, so the
    # reused plan must not create it again, exactly as synthesis would not.
    await _remember(store, "add a payment service for shop", "wf-1")
    reused, synthesised = await _both(store, "add a payment service for shop")
    assert reused.reused_from == "wf-1"
    assert _without_origin(reused) == synthesised
    assert [s.id for s in reused.steps] == ["create-service-payment"]


async def test_reuse_renames_an_inserted_producer(store: EmbeddedGraphStore) -> None:
    await _remember(store, "deploy shop to staging", "wf-1")
    reused, synthesised = await _both(store, "deploy blog to production")
    assert reused.reused_from == "wf-1"
    assert _without_origin(reused) == synthesised
    assert [s.id for s in reused.steps] == [
        "create-application-blog", "ensure-environment-production",
        "deploy-deployment-blog-production",
    ]


async def test_reuse_refused_when_the_graph_differs(store: EmbeddedGraphStore) -> None:
    # The stored plan took shop from the graph; blog does not exist, so it needs a
    # producer the stored plan lacks: synthesis plans it.
    await store.claim_entity(EntityRef(kind="application", name="shop"), "", {})
    await _remember(store, "add a payment service for shop", "wf-1")
    reused, synthesised = await _both(store, "add a cart service for blog")
    assert reused.reused_from is None
    assert reused == synthesised
    assert [s.id for s in reused.steps] == ["create-application-blog", "create-service-cart"]


async def test_reuse_refused_for_another_structure(store: EmbeddedGraphStore) -> None:
    await _remember(store, "create application shop with payment service", "wf-1")
    reused, synthesised = await _both(store, "create application blog")
    assert reused.reused_from is None and reused == synthesised
    # Same (verb, kind) set, but two services instead of one.
    reused, _ = await _both(store, "create application blog with cart and search services")
    assert reused.reused_from is None


async def test_reuse_ignores_a_plan_read_another_way(store: EmbeddedGraphStore) -> None:
    # A model's plan (or one read by older rules) records another intent: its steps
    # need not follow from these actions.
    request = "create application shop with payment service"
    plan = await OfflinePlanner(REGISTRY, store, reuse_plans=False).plan(request)
    await carry_out(store, plan.model_copy(update={"intent": "shop and its payments"}), "wf-1")
    reused, _ = await _both(store, "create application blog with comments service")
    assert reused.reused_from is None


def _app(name: str) -> Action:
    return Action(verb="create", kind="application", name=name)


def _service(name: str, app: str) -> Action:
    return Action(verb="create", kind="service", name=name, qualifiers={"application": app})


def test_renaming_is_one_to_one_per_kind() -> None:
    assert renaming([_app("a"), _service("x", "a")], [_app("b"), _service("y", "b")]) == {
        ("application", "a"): "b", ("service", "x"): "y",
    }
    # One old name cannot become two new ones, nor two old names one new one.
    assert renaming([_app("a"), _service("x", "a")], [_app("b"), _service("y", "c")]) is None
    assert renaming([_app("a"), _app("b")], [_app("c"), _app("c")]) is None
    # Names of different kinds are different entities.
    assert renaming([_app("a"), _service("a", "a")], [_app("b"), _service("c", "b")]) is not None
    assert renaming([_app("a")], [_service("a", "a")]) is None
