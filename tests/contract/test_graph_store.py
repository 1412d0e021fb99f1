"""The `GraphStore` contract: every backend passes the same tests.

Writes must be idempotent because activities run at least once: the same write
repeated, or racing itself, leaves the graph as one write would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from orchestrator.graph.store import GraphStore, Relation, Released
from orchestrator.models import (
    Agent,
    AgentKind,
    Capability,
    EntityRef,
    Plan,
    RunRecord,
    RunStatus,
    Step,
    StepRecord,
    StepStatus,
)
from tests.contract.conftest import Backend

APP = EntityRef(kind="application", name="shop")
SVC = EntityRef(kind="service", name="payment")
ENV = EntityRef(kind="environment", name="production")

CAPABILITIES = [
    Capability(name="application.create", description="make an application", input_schema={},
               produces=["application"]),
    Capability(name="service.create", description="make a service", input_schema={},
               consumes=["application"], produces=["service"]),
]
AGENTS = [
    Agent(id="application-agent", kind=AgentKind.BUILTIN, capabilities=["application.create"]),
    Agent(id="service-agent", kind=AgentKind.BUILTIN, capabilities=["service.create"]),
    Agent(id="spare-agent", kind=AgentKind.MCP,
          capabilities=["application.create", "service.create"]),
]
PLAN = Plan(intent="shop", request="create application shop with payment service", steps=[
    Step(id="app", capability="application.create", agent="application-agent"),
    Step(id="svc", capability="service.create", agent="service-agent", depends_on=["app"]),
])
# The nodes and edges one run of PLAN adds: its workflow, plan, two steps, their agents.
RUN_COUNTS = {"Workflow": 1, "Plan": 1, "Step": 2, "Agent": 2, "HAS_PLAN": 1, "CONTAINS": 2,
              "EXECUTED_BY": 2, "DEPENDS_ON": 1}


def _step(wf: str, step: str, status: StepStatus, attempt: int = 1, **fields: object
          ) -> StepRecord:
    capability, agent = {"app": ("application.create", "application-agent"),
                         "svc": ("service.create", "service-agent")}[step]
    return StepRecord.model_validate({
        "workflow_id": wf, "step_id": step, "capability": capability, "agent": agent,
        "status": status, "attempt": attempt, **fields,
    })


def _run(wf: str, status: RunStatus = RunStatus.RUNNING, steps: list[StepRecord] | None = None
         ) -> RunRecord:
    return RunRecord(workflow_id=wf, request=PLAN.request, status=status, plan=PLAN,
                     steps=steps or [])


async def _same_graph_when_repeated(
    graph: GraphStore, write: Callable[[], Awaitable[object]]
) -> dict[str, int]:
    """Write once, three more times in a row, then three times at once: the counts of
    nodes and relationships never move after the first."""
    await write()
    once = await graph.counts()
    for _ in range(3):
        await write()
    assert await graph.counts() == once
    await asyncio.gather(*(write() for _ in range(3)))
    assert await graph.counts() == once
    return once


async def test_new_graph_is_empty(graph: GraphStore) -> None:
    assert await graph.counts() == {}
    assert await graph.find_entities() == []
    assert await graph.get_entity(APP) is None
    assert await graph.relations(APP) == []
    run = await graph.run_graph("no-such-run")
    assert run.status is None and run.steps == {} and run.depends_on == []


async def test_reopened_store_keeps_its_graph(backend: Backend) -> None:
    await backend.empty()
    first = backend.new_store()
    await first.setup()
    await first.claim_entity(APP, "wf/app", {"tier": "gold"})
    await first.close()
    again = backend.new_store()
    await again.setup()  # the schema is created again, idempotently
    try:
        entity = await again.get_entity(APP)
        assert entity is not None and entity.created_by == "wf/app"
        assert entity.attrs == {"tier": "gold"}
    finally:
        await again.close()


async def test_register_catalogue_is_idempotent(graph: GraphStore) -> None:
    counts = await _same_graph_when_repeated(
        graph, lambda: graph.register_catalogue(CAPABILITIES, AGENTS)
    )
    assert counts == {"Capability": 2, "Agent": 3, "PROVIDES": 4}


async def test_claim_entity_returns_the_first_creator(graph: GraphStore) -> None:
    first = await graph.claim_entity(APP, "wf1/app", {"tier": "gold"})
    again = await graph.claim_entity(APP, "wf2/app", {"tier": "bronze"})
    assert first.created_by == again.created_by == "wf1/app"
    assert again.attrs == {"tier": "gold"} and again.ref == APP


async def test_claim_entity_racing_itself_makes_one_entity(graph: GraphStore) -> None:
    claims = await asyncio.gather(*(graph.claim_entity(SVC, f"wf{i}/svc", {}) for i in range(5)))
    assert len({c.created_by for c in claims}) == 1
    assert await graph.counts() == {"Entity": 1}


async def test_get_entity_round_trips_attributes(graph: GraphStore) -> None:
    attrs = {"replicas": 3, "labels": ["a", "b"], "nested": {"ok": True}, "none": None}
    await graph.claim_entity(APP, "", attrs)
    entity = await graph.get_entity(APP)
    assert entity is not None
    assert (entity.kind, entity.name, entity.created_by, entity.attrs) == (
        "application", "shop", "", attrs
    )


async def test_find_entities_filters_by_kind_in_name_order(graph: GraphStore) -> None:
    for name in ("zeta", "alpha", "mid"):
        await graph.claim_entity(EntityRef(kind="service", name=name), "wf/x", {})
    await graph.claim_entity(APP, "wf/x", {})
    services = await graph.find_entities("service")
    assert [e.name for e in services] == ["alpha", "mid", "zeta"]
    everything = await graph.find_entities()
    assert [(e.kind, e.name) for e in everything] == [
        ("application", "shop"), ("service", "alpha"), ("service", "mid"), ("service", "zeta"),
    ]
    assert await graph.find_entities("policy") == []


async def test_release_removes_an_entity_only_for_its_creator(graph: GraphStore) -> None:
    await graph.claim_entity(APP, "wf1/app", {})
    await graph.claim_entity(SVC, "wf1/svc", {})
    await graph.relate([Relation(source=APP, type="owns", target=SVC)])
    assert (await graph.release_entity(APP, "wf2/app")).deleted is False
    assert await graph.get_entity(APP) is not None
    assert (await graph.release_entity(APP, "wf1/app")).deleted is True
    assert await graph.get_entity(APP) is None
    assert await graph.relations(SVC) == []  # its relationships went with it
    assert await graph.release_entity(APP, "wf1/app") == Released(deleted=False, absent=True)
    assert await graph.counts() == {"Entity": 1}
    # What no run made ("" made it) is never removed by one.
    await graph.claim_entity(ENV, "", {})
    assert (await graph.release_entity(ENV, "")).deleted is False
    assert await graph.get_entity(ENV) is not None


async def test_an_entity_another_run_holds_outlives_its_makers_undo(graph: GraphStore) -> None:
    # Run A makes application newapp and service payment; run B, meanwhile, makes
    # application other and finds payment made.
    newapp, other = EntityRef(kind="application", name="newapp"), APP
    await graph.claim_entity(newapp, "A/app", {})
    await graph.claim_entity(SVC, "A/svc", {})
    await graph.relate([Relation(source=newapp, type="owns", target=SVC)], "A/svc")
    await graph.claim_entity(other, "B/app", {})
    for _ in range(2):  # a retried step holds it once
        found = await graph.claim_entity(SVC, "B/svc", {})
    assert found.created_by == "A/svc" and found.users == ["B/svc"]
    await graph.relate([Relation(source=other, type="owns", target=SVC)], "B/svc")
    # A rolls back: payment stays, B's now; only A's relationship goes.
    released = await graph.release_entity(SVC, "A/svc")
    assert released.deleted is False and released.kept_for == "B/svc"
    # Asked again (A's undo tried again): still says whom it was left to.
    assert await graph.release_entity(SVC, "A/svc") == Released(deleted=False,
                                                                 kept_for="B/svc")
    assert (await graph.release_entity(newapp, "A/app")).deleted is True
    kept = await graph.get_entity(SVC)
    assert kept is not None and kept.created_by == "B/svc" and kept.users == []
    assert await graph.relations(SVC) == [Relation(source=other, type="owns", target=SVC)]
    # B rolls back later: nobody holds payment any more.
    assert (await graph.release_entity(SVC, "B/svc")).deleted is True
    assert (await graph.release_entity(other, "B/app")).deleted is True
    assert await graph.counts() == {}


async def test_an_undo_removes_the_relationships_its_step_added(graph: GraphStore) -> None:
    # payment was made by another run; this run's step made alpha own it too.
    alpha = EntityRef(kind="application", name="alpha")
    await graph.claim_entity(SVC, "E/svc", {})
    await graph.claim_entity(alpha, "A/app", {})
    await graph.claim_entity(SVC, "A/svc", {})
    await graph.relate([Relation(source=alpha, type="owns", target=SVC)], "A/svc")
    released = await graph.release_entity(SVC, "A/svc")
    assert released == Released(deleted=False)
    assert await graph.relations(SVC) == []
    kept = await graph.get_entity(SVC)
    assert kept is not None and kept.created_by == "E/svc" and kept.users == []
    # A relationship another step also added outlives the undo of its maker's step.
    await graph.relate([Relation(source=alpha, type="owns", target=SVC)], "A/svc")
    await graph.hold_entity(alpha, "B/svc")
    await graph.relate([Relation(source=alpha, type="owns", target=SVC)], "B/svc")
    await graph.release_entity(SVC, "A/svc")
    assert await graph.relations(SVC) == [Relation(source=alpha, type="owns", target=SVC)]
    assert await graph.hold_entity(EntityRef(kind="application", name="ghost"), "B/x") is None


async def test_relate_is_idempotent(graph: GraphStore) -> None:
    for ref in (APP, SVC, ENV):
        await graph.claim_entity(ref, "wf/x", {})
    relations = [Relation(source=APP, type="owns", target=SVC),
                 Relation(source=SVC, type="deployed_to", target=ENV)]
    counts = await _same_graph_when_repeated(graph, lambda: graph.relate(relations))
    assert counts == {"Entity": 3, "RELATED_TO": 2}


async def test_relations_leave_and_enter_the_entity(graph: GraphStore) -> None:
    for ref in (APP, SVC, ENV):
        await graph.claim_entity(ref, "wf/x", {})
    owns = Relation(source=APP, type="owns", target=SVC)
    deployed = Relation(source=SVC, type="deployed_to", target=ENV)
    await graph.relate([owns, deployed])
    assert await graph.relations(SVC) == [deployed, owns]  # ordered by type
    assert await graph.relations(APP) == [owns]
    assert await graph.relations(ENV) == [deployed]


async def test_a_second_type_between_the_same_entities_is_a_relation_of_its_own(
    graph: GraphStore,
) -> None:
    await graph.claim_entity(APP, "wf/x", {})
    await graph.claim_entity(SVC, "wf/x", {})
    owns = Relation(source=APP, type="owns", target=SVC)
    uses = Relation(source=APP, type="uses", target=SVC)
    await graph.relate([owns])
    await graph.relate([uses, owns])
    assert await graph.relations(APP) == [owns, uses]
    assert (await graph.counts())["RELATED_TO"] == 2


async def test_relate_to_a_missing_entity_writes_nothing(graph: GraphStore) -> None:
    await graph.claim_entity(APP, "wf/x", {})
    await graph.relate([Relation(source=APP, type="owns", target=SVC)])
    assert await graph.counts() == {"Entity": 1}


async def test_unrelate_removes_only_the_named_type(graph: GraphStore) -> None:
    await graph.claim_entity(APP, "wf/x", {})
    await graph.claim_entity(SVC, "wf/x", {})
    owns = Relation(source=APP, type="owns", target=SVC)
    uses = Relation(source=APP, type="uses", target=SVC)
    await graph.relate([owns, uses])
    await graph.unrelate([owns])
    assert await graph.relations(APP) == [uses]
    await graph.unrelate([owns])  # already gone: nothing to do, no error
    assert await graph.relations(APP) == [uses]


async def test_empty_writes_change_nothing(graph: GraphStore) -> None:
    await graph.register_catalogue([], [])
    await graph.relate([])
    await graph.unrelate([])
    await graph.record_steps([])
    assert await graph.counts() == {}


async def test_record_run_is_idempotent(graph: GraphStore) -> None:
    counts = await _same_graph_when_repeated(graph, lambda: graph.record_run(_run("wf1")))
    assert counts == RUN_COUNTS
    run = await graph.run_graph("wf1")
    assert run.status == "running"
    assert run.steps == {
        "app": {"capability": "application.create", "agent": "application-agent",
                "status": "pending", "attempt": 0, "output": None},
        "svc": {"capability": "service.create", "agent": "service-agent",
                "status": "pending", "attempt": 0, "output": None},
    }
    assert run.depends_on == [("svc", "app")]
    assert run.executed_by == [("app", "application-agent"), ("svc", "service-agent")]
    assert run.operates_on == []
    shape = await graph.run_shape("wf1")
    assert shape.capabilities == {"app": "application.create", "svc": "service.create"}
    assert shape.depends_on == [("svc", "app")]
    assert (await graph.run_shape("no-such-run")).capabilities == {}


async def test_copies_of_a_run_in_one_batch_leave_the_last_ones_values(
    graph: GraphStore,
) -> None:
    first = _run("wf1", RunStatus.FAILED, [_step("wf1", "app", StepStatus.FAILED)])
    last = _run("wf1", RunStatus.COMPLETED, [_step("wf1", "app", StepStatus.COMPLETED)])
    # Queued together, they share one transaction: made once, set as the last says.
    await asyncio.gather(graph.record_run(first.model_copy(update={"error": "boom"})),
                         graph.record_run(last))
    assert await graph.counts() == RUN_COUNTS
    run = await graph.run_graph("wf1")
    assert run.status == "completed"
    assert run.steps["app"]["status"] == "completed"


async def test_unfinished_runs_are_those_not_ended(graph: GraphStore) -> None:
    await asyncio.gather(
        graph.record_run(_run("wf-b")), graph.record_run(_run("wf-a", RunStatus.PLANNING)),
        graph.record_run(_run("wf-c", RunStatus.COMPLETED)),
        graph.record_run(_run("wf-d", RunStatus.ROLLED_BACK)),
    )
    going = await graph.unfinished_runs()
    assert [run_id for run_id, _ in going] == ["wf-a", "wf-b"]
    assert going[0][1] == PLAN.request
    assert await graph.unfinished_runs(limit=1) == going[:1]
    # Settled with the run's end, its plan and steps kept, and the reason read back.
    await graph.record_run(RunRecord(workflow_id="wf-a", request=going[0][1],
                                     status=RunStatus.FAILED, error="terminated"))
    settled = await graph.run_graph("wf-a")
    assert (settled.status, settled.error, len(settled.steps)) == ("failed", "terminated", 2)
    assert [run_id for run_id, _ in await graph.unfinished_runs()] == ["wf-b"]


async def test_runs_share_agents_but_not_steps(graph: GraphStore) -> None:
    await asyncio.gather(*(graph.record_run(_run(f"wf{i}")) for i in range(3)))
    counts = await graph.counts()
    assert counts["Workflow"] == counts["Plan"] == 3 and counts["Step"] == 6
    assert counts["Agent"] == 2 and counts["DEPENDS_ON"] == 3
    assert [(await graph.run_graph(f"wf{i}")).depends_on for i in range(3)] == [
        [("svc", "app")]] * 3


async def test_record_steps_sets_states_outputs_and_entities(graph: GraphStore) -> None:
    await graph.record_run(_run("wf1"))
    await graph.claim_entity(APP, "wf1/app", {})
    done = _step("wf1", "app", StepStatus.COMPLETED, attempt=2,
                 output={"id": "app-1", "urls": ["a", "b"]}, operates_on=[APP])
    counts = await _same_graph_when_repeated(graph, lambda: graph.record_steps([done]))
    assert counts == {**RUN_COUNTS, "Entity": 1, "OPERATES_ON": 1}
    run = await graph.run_graph("wf1")
    assert run.steps["app"]["status"] == "completed" and run.steps["app"]["attempt"] == 2
    assert run.steps["app"]["output"] == {"id": "app-1", "urls": ["a", "b"]}
    assert run.steps["svc"]["status"] == "pending"
    assert run.operates_on == [("app", APP.key)]


async def test_later_step_state_replaces_the_earlier(graph: GraphStore) -> None:
    await graph.record_run(_run("wf1"))
    await graph.record_steps([_step("wf1", "app", StepStatus.RUNNING)])
    await graph.record_steps([_step("wf1", "app", StepStatus.FAILED, attempt=3,
                                    error="boom")])
    assert (await graph.run_graph("wf1")).steps["app"]["status"] == "failed"


async def test_final_record_carries_every_step_state(graph: GraphStore) -> None:
    await graph.record_run(_run("wf1"))
    await graph.claim_entity(APP, "wf1/app", {})
    final = _run("wf1", RunStatus.COMPLETED, steps=[
        _step("wf1", "app", StepStatus.COMPLETED, output={"id": "app-1"}, operates_on=[APP]),
        _step("wf1", "svc", StepStatus.COMPLETED, output={}),
    ])
    counts = await _same_graph_when_repeated(graph, lambda: graph.record_run(final))
    assert counts == {**RUN_COUNTS, "Entity": 1, "OPERATES_ON": 1}
    run = await graph.run_graph("wf1")
    assert run.status == "completed"
    assert {s: v["status"] for s, v in run.steps.items()} == {
        "app": "completed", "svc": "completed"
    }
    assert run.steps["app"]["output"] == {"id": "app-1"}


async def test_final_record_alone_writes_the_whole_run(graph: GraphStore) -> None:
    """The plan's own mirror may have been lost; the final record suffices."""
    final = _run("wf1", RunStatus.FAILED, steps=[_step("wf1", "app", StepStatus.FAILED)])
    await graph.record_run(final)
    assert await graph.counts() == RUN_COUNTS
    run = await graph.run_graph("wf1")
    assert run.status == "failed" and run.steps["app"]["status"] == "failed"
    assert run.steps["svc"]["status"] == "pending"


async def test_a_late_state_never_overwrites_the_final_mirrors(graph: GraphStore) -> None:
    await graph.record_run(_run("wf1"))
    final = _run("wf1", RunStatus.ROLLED_BACK, steps=[
        _step("wf1", "app", StepStatus.COMPENSATED),
        _step("wf1", "svc", StepStatus.FAILED, attempt=3, error="boom"),
    ])
    await graph.record_run(final)
    # Attempts given up on, ending late in some worker: their records land after.
    await graph.record_steps([
        _step("wf1", "app", StepStatus.COMPLETED),
        _step("wf1", "svc", StepStatus.FAILED, attempt=2, error="late"),
    ])
    run = await graph.run_graph("wf1")
    assert run.steps["app"]["status"] == "compensated"
    assert (run.steps["svc"]["status"], run.steps["svc"]["attempt"]) == ("failed", 3)
    # Another final mirror of the run is still the last word.
    await graph.record_run(final.model_copy(update={"steps": [
        _step("wf1", "app", StepStatus.COMPENSATION_FAILED)]}))
    assert (await graph.run_graph("wf1")).steps["app"]["status"] == "compensation_failed"


async def test_undo_is_a_step_of_its_own_compensating_the_step(graph: GraphStore) -> None:
    await graph.record_run(_run("wf1"))
    await graph.claim_entity(APP, "wf1/app", {})
    undo = _step("wf1", "app", StepStatus.COMPLETED, undo=True, operates_on=[APP])
    counts = await _same_graph_when_repeated(graph, lambda: graph.record_steps([undo]))
    # The undo's step, under the run, by the same agent, on the same entity.
    assert counts == {**RUN_COUNTS, "Step": 3, "CONTAINS": 3, "EXECUTED_BY": 3,
                      "COMPENSATED_BY": 1, "Entity": 1, "OPERATES_ON": 1}
    run = await graph.run_graph("wf1")
    assert run.compensated_by == [("app", "undo-app")]
    assert run.steps["undo-app"]["status"] == "completed"
    assert run.steps["app"]["status"] == "pending"  # the step's own state is untouched


async def test_run_without_a_plan_is_a_lone_workflow(graph: GraphStore) -> None:
    record = RunRecord(workflow_id="wf1", request="gibberish", status=RunStatus.FAILED,
                       error="cannot plan")
    counts = await _same_graph_when_repeated(graph, lambda: graph.record_run(record))
    assert counts == {"Workflow": 1}
    run = await graph.run_graph("wf1")
    assert run.status == "failed" and run.steps == {}


async def test_an_undo_lets_go_of_everything_its_step_held(graph: GraphStore) -> None:
    # A deployment step relies on its application, environment and services, and
    # made the deployment and its relationships; it failed after writing, say.
    dep = EntityRef(kind="deployment", name="shop-production")
    for ref in (APP, SVC, ENV):
        await graph.claim_entity(ref, "other/make", {})
    await graph.claim_entity(dep, "wf/deploy", {})
    for ref in (APP, SVC, ENV):
        await graph.hold_entity(ref, "wf/deploy")
    await graph.relate([Relation(source=APP, type="deployed_to", target=ENV),
                        Relation(source=dep, type="runs_in", target=ENV)], "wf/deploy")
    released = await graph.release_holds("wf/deploy", [dep, APP])
    assert released == {dep.key: Released(deleted=True), APP.key: Released(deleted=False)}
    for ref in (APP, SVC, ENV):
        kept = await graph.get_entity(ref)
        assert kept is not None and kept.users == [] and kept.created_by == "other/make"
    assert await graph.relations(APP) == [] and await graph.relations(ENV) == []
