"""The `GraphStore` contract for reads over relationships: a step's context, impact,
references, pages of entities and agents' statistics, on every backend."""

from __future__ import annotations

from itertools import pairwise

from orchestrator.graph.embedded import EmbeddedGraphStore
from orchestrator.graph.neo4j_store import Neo4jGraphStore
from orchestrator.graph.store import GraphStore, Relation
from orchestrator.models import (
    Agent,
    AgentKind,
    AgentStats,
    Capability,
    EntityRef,
    Plan,
    RunRecord,
    RunStatus,
    Step,
    StepRecord,
    StepStatus,
)

WF = "wf1"


def _ref(kind: str, name: str) -> EntityRef:
    return EntityRef(kind=kind, name=name)


APP, BLOG = _ref("application", "ecommerce"), _ref("application", "blog")
SVC = _ref("service", "payment")
PROD, STAGING = _ref("environment", "production"), _ref("environment", "staging")
DEP, BLOG_DEP = _ref("deployment", "ecommerce-production"), _ref("deployment", "blog-staging")
MON = _ref("policy", "monitoring-ecommerce-production")
SEC = _ref("policy", "security-ecommerce-production")

# The world an S1 run leaves, the way the platform agents relate it, and a blog on staging.
RELATIONS = [
    Relation(source=APP, type="owns", target=SVC),
    Relation(source=APP, type="deployed_to", target=PROD),
    Relation(source=DEP, type="deploys", target=APP),
    Relation(source=DEP, type="runs_in", target=PROD),
    Relation(source=DEP, type="has_policy", target=MON),
    Relation(source=DEP, type="has_policy", target=SEC),
    Relation(source=BLOG, type="deployed_to", target=STAGING),
    Relation(source=BLOG_DEP, type="deploys", target=BLOG),
    Relation(source=BLOG_DEP, type="runs_in", target=STAGING),
]
# step id: (capability, depends on, operates on)
STEPS: dict[str, tuple[str, list[str], list[EntityRef]]] = {
    "app": ("application.create", [], [APP]),
    "svc": ("service.create", ["app"], [APP, SVC]),
    "env": ("environment.ensure", [], [PROD]),
    "deploy": ("deployment.create", ["app", "svc", "env"], [APP, PROD, DEP]),
    "monitoring": ("policy.apply", ["deploy"], [DEP, MON]),
    "security": ("policy.apply", ["deploy"], [DEP, SEC]),
}


async def _world(graph: GraphStore) -> None:
    for ref in (APP, BLOG, SVC, PROD, STAGING, DEP, BLOG_DEP, MON, SEC):
        await graph.claim_entity(ref, f"{WF}/x", {"seen": ref.name})
    await graph.relate(RELATIONS)
    plan = Plan(intent="s1", request="s1", steps=[
        Step(id=s, capability=c, agent="platform", depends_on=d) for s, (c, d, _) in STEPS.items()
    ])
    records = [
        StepRecord(workflow_id=WF, step_id=s, capability=c, agent="platform",
                   status=StepStatus.COMPLETED, attempt=1, output={"made": s}, operates_on=on)
        for s, (c, _, on) in STEPS.items() if s != "security"  # still pending
    ]
    await graph.record_run(RunRecord(workflow_id=WF, request="s1", status=RunStatus.RUNNING,
                                     plan=plan, steps=records))


async def test_step_context_walks_dependencies_transitively(graph: GraphStore) -> None:
    await _world(graph)
    context = await graph.step_context(WF, "monitoring")
    assert sorted(context.dependencies) == ["app", "deploy", "env", "svc"]
    deploy = context.dependencies["deploy"]
    assert (deploy.capability, deploy.agent, deploy.status) == (
        "deployment.create", "platform", "completed"
    )
    assert deploy.output == {"made": "deploy"}
    assert [c.entity.ref for c in context.entities] == [DEP, MON]
    assert context.entities[0].entity.attrs == {"seen": DEP.name}
    assert context.entities[0].relations == [
        Relation(source=DEP, type="deploys", target=APP),
        Relation(source=DEP, type="has_policy", target=MON),
        Relation(source=DEP, type="has_policy", target=SEC),
        Relation(source=DEP, type="runs_in", target=PROD),
    ]
    assert context.entities[1].relations == [Relation(source=DEP, type="has_policy", target=MON)]


async def test_step_context_sees_pending_dependencies_and_no_other_run(graph: GraphStore) -> None:
    await _world(graph)
    other = RunRecord(workflow_id="wf2", request="s1", status=RunStatus.RUNNING, plan=Plan(
        intent="s1", request="s1", steps=[Step(id="app", capability="application.create",
                                               agent="platform")]))
    await graph.record_run(other)
    assert (await graph.step_context(WF, "app")).dependencies == {}
    svc = await graph.step_context(WF, "svc")
    assert list(svc.dependencies) == ["app"]
    assert [c.entity.ref for c in svc.entities] == [APP, SVC]
    # The step's own state is not its context: a pending step still gets its dependencies.
    pending = await graph.step_context(WF, "security")
    assert sorted(pending.dependencies) == ["app", "deploy", "env", "svc"]
    assert pending.dependencies["env"].status == "completed"
    assert pending.entities == []  # what it operates on is known once it ran


async def test_step_context_of_unknown_step_is_empty(graph: GraphStore) -> None:
    context = await graph.step_context("no-run", "no-step")
    assert context.dependencies == {} and context.entities == []


async def test_impact_follows_the_direction_of_dependency(graph: GraphStore) -> None:
    await _world(graph)
    impact = await graph.impact(APP)
    assert [(i.depth, i.entity, i.via.type) for i in impact.entities] == [
        (1, DEP, "deploys"), (1, SVC, "owns"), (2, MON, "has_policy"), (2, SEC, "has_policy"),
    ]
    # The environment it is deployed to does not depend on it, nor does the blog.
    assert [(s.step_id, s.capability, s.status) for s in impact.steps] == [
        ("app", "application.create", "completed"), ("deploy", "deployment.create", "completed"),
        ("svc", "service.create", "completed"),
    ]
    assert impact.runs == [WF]


async def test_impact_of_an_environment_reaches_what_runs_there(graph: GraphStore) -> None:
    await _world(graph)
    impact = await graph.impact(PROD)
    assert [(i.depth, i.entity) for i in impact.entities] == [
        (1, APP), (1, DEP), (2, MON), (2, SEC), (2, SVC),
    ]
    assert [i.entity for i in (await graph.impact(SVC)).entities] == []
    assert [i.entity for i in (await graph.impact(STAGING)).entities] == [BLOG, BLOG_DEP]
    # The application deployed to staging too: staging's impact is its deployment
    # there (and the application, and its services), not the one in production.
    app_staging = _ref("deployment", "ecommerce-staging")
    await graph.claim_entity(app_staging, f"{WF}/x", {})
    await graph.relate([Relation(source=APP, type="deployed_to", target=STAGING),
                        Relation(source=app_staging, type="deploys", target=APP),
                        Relation(source=app_staging, type="runs_in", target=STAGING)])
    assert [(i.depth, i.entity) for i in (await graph.impact(STAGING)).entities] == [
        (1, BLOG), (1, APP), (1, BLOG_DEP), (1, app_staging), (2, SVC)]
    assert DEP in [i.entity for i in (await graph.impact(APP)).entities]


async def test_impact_is_bounded_and_survives_cycles(graph: GraphStore) -> None:
    chain = [_ref("service", f"s{i}") for i in range(8)]
    for ref in chain:
        await graph.claim_entity(ref, "", {})
    # A ring: s0 owns s1 ... s7 owns s0.
    await graph.relate([Relation(source=a, type="owns", target=b)
                        for a, b in pairwise([*chain, chain[0]])])
    assert [i.entity for i in (await graph.impact(chain[0])).entities] == chain[1:6]
    assert [i.depth for i in (await graph.impact(chain[0], depth=2)).entities] == [1, 2]
    # Around the cycle, back to the start: the start is not its own impact.
    assert [i.entity for i in (await graph.impact(chain[4], depth=7)).entities] == [
        *chain[5:], *chain[:4]
    ]


async def test_impact_of_unknown_entity_is_empty(graph: GraphStore) -> None:
    impact = await graph.impact(APP)
    assert impact.entity == APP
    assert impact.entities == [] and impact.steps == [] and impact.runs == []


async def test_resolve_reference_by_kind_and_name(graph: GraphStore) -> None:
    await _world(graph)

    async def names(text: str, kind: str | None = None) -> list[tuple[str, str]]:
        return [(e.kind, e.name) for e in await graph.resolve_reference(text, kind)]

    assert await names("the payment service") == [("service", "payment")]
    assert await names("my application") == [("application", "blog"), ("application", "ecommerce")]
    assert await names("the apps") == await names("my application")
    assert await names("all policies") == [("policy", MON.name), ("policy", SEC.name)]
    assert await names("payment", kind="application") == []
    assert await names("the production environment") == [("environment", "production")]
    assert await names("nothing known here") == []
    assert await names("") == []


async def test_a_kind_narrows_what_the_text_refers_to_and_never_stands_for_it(
    graph: GraphStore,
) -> None:
    await _world(graph)

    async def names(text: str, kind: str) -> list[str]:
        return [e.name for e in await graph.resolve_reference(text, kind)]

    # Text that names nothing is nothing of any kind, as it is with no kind asked.
    assert await names("nope", "application") == []
    assert await names("nope", "cluster") == []
    # Text that names the kind gives every entity of it, as without the filter.
    assert await names("my application", "application") == ["blog", "ecommerce"]
    assert await names("the apps", "application") == ["blog", "ecommerce"]
    assert await names("the payment service", "service") == ["payment"]
    assert await names("what is deployed to production", "deployment") == [DEP.name]
    # Text of another kind is none of this one.
    assert await names("my application", "service") == []


async def test_resolve_reference_through_deployments(graph: GraphStore) -> None:
    await _world(graph)
    resolved = await graph.resolve_reference("what is deployed to production")
    assert [e.ref for e in resolved] == [APP, DEP]
    assert resolved[0].attrs == {"seen": APP.name}
    failing = await graph.resolve_reference("My application is failing in the staging")
    assert [e.ref for e in failing] == [BLOG]
    assert await graph.resolve_reference("the deployment in staging") == [
        await graph.get_entity(BLOG_DEP)
    ]
    # "production" with no word of placement before it is the environment itself.
    assert [e.ref for e in await graph.resolve_reference("production")] == [PROD]


async def test_resolve_reference_takes_text_only_as_values(graph: GraphStore) -> None:
    await _world(graph)
    before = await graph.counts()
    for text in ("x' OR 1=1 //", "}) MATCH (n) DETACH DELETE n //", "$names"):
        assert await graph.resolve_reference(text) == []
    assert await graph.counts() == before


async def test_list_entities_pages_in_find_order(graph: GraphStore) -> None:
    await _world(graph)
    everything = await graph.find_entities()
    assert await graph.list_entities(limit=100) == everything
    assert await graph.list_entities(limit=3, offset=2) == everything[2:5]
    assert await graph.list_entities(limit=5, offset=len(everything)) == []
    policies = await graph.list_entities("policy", limit=1, offset=1)
    assert [e.ref for e in policies] == [SEC]


async def test_a_page_far_past_the_end_is_empty(graph: GraphStore) -> None:
    await _world(graph)
    for offset in (7_500, 10_000, 10**9):
        assert await graph.list_entities(limit=100, offset=offset) == []
        assert await graph.list_entities("policy", limit=100, offset=offset) == []


CAPABILITIES = [
    Capability(name="application.create", description="", input_schema={}),
    Capability(name="service.create", description="", input_schema={}),
]
AGENTS = [
    Agent(id="application-agent", kind=AgentKind.BUILTIN, capabilities=["application.create"]),
    Agent(id="spare-agent", kind=AgentKind.MCP,
          capabilities=["application.create", "service.create"]),
]
# Not in the store's queries: the statistics' own update is not this contract's.
SET_STATS = """
MATCH (:Agent {id: $agent})-[p:PROVIDES]->(:Capability {id: $capability})
SET p.runs = $runs, p.successes = $successes, p.total_ms = $total_ms
"""


async def _set_stats(graph: GraphStore, agent: str, capability: str, stats: AgentStats) -> None:
    params = {"agent": agent, "capability": capability, **stats.model_dump()}
    if isinstance(graph, EmbeddedGraphStore):
        await graph._run(SET_STATS, **params)
    else:
        assert isinstance(graph, Neo4jGraphStore)
        await graph._write_rows(SET_STATS, **params)


async def test_agent_stats_by_agent_and_capability(graph: GraphStore) -> None:
    assert await graph.agent_stats() == {}
    await graph.register_catalogue(CAPABILITIES, AGENTS)
    seen = AgentStats(runs=4, successes=3, total_ms=1200)
    await _set_stats(graph, "spare-agent", "service.create", seen)
    assert await graph.agent_stats() == {
        "application-agent/application.create": AgentStats(),
        "spare-agent/application.create": AgentStats(),
        "spare-agent/service.create": seen,
    }


async def test_list_agents_with_capabilities_and_stats(graph: GraphStore) -> None:
    await graph.register_catalogue(CAPABILITIES, AGENTS)
    await _set_stats(graph, "application-agent", "application.create",
                     AgentStats(runs=2, successes=2, total_ms=30))
    await _world(graph)  # its steps name an agent no catalogue registered
    agents = await graph.list_agents()
    assert [(a.id, a.kind) for a in agents] == [
        ("application-agent", "builtin"), ("platform", None), ("spare-agent", "mcp"),
    ]
    assert agents[0].capabilities == {
        "application.create": AgentStats(runs=2, successes=2, total_ms=30)
    }
    assert agents[1].capabilities == {}
    assert sorted(agents[2].capabilities) == ["application.create", "service.create"]
