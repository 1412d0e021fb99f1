"""Follow-ups in the graph, on every backend: a run's plan that grows while it runs
is mirrored again, and a run that follows an earlier one links to it."""

from __future__ import annotations

from orchestrator.graph import queries as q
from orchestrator.graph.cypher_store import CypherStore
from orchestrator.graph.store import GraphStore
from orchestrator.models import RunRecord, RunStatus, Step, StepRecord, StepStatus
from tests.contract.test_graph_store import PLAN, _run

CACHE = Step(id="cache", capability="service.create", agent="service-agent",
             depends_on=["app"])
GROWN = PLAN.model_copy(update={"steps": [*PLAN.steps, CACHE]})


async def _followed(graph: GraphStore, workflow_id: str) -> list[str]:
    assert isinstance(graph, CypherStore)
    return [row[0] for row in await graph._read(q.FOLLOWED_RUNS, id=workflow_id)]


async def test_a_grown_plan_is_mirrored_with_its_new_steps(graph: GraphStore) -> None:
    await graph.record_run(_run("wf1"))
    await graph.record_run(RunRecord(workflow_id="wf1", request=PLAN.request,
                                     status=RunStatus.RUNNING, plan=GROWN))
    done = StepRecord(workflow_id="wf1", step_id="cache", capability="service.create",
                      agent="service-agent", status=StepStatus.COMPLETED, attempt=1)
    await graph.record_steps([done])
    run = await graph.run_graph("wf1")
    assert sorted(run.steps) == ["app", "cache", "svc"]
    assert ("cache", "app") in run.depends_on
    assert run.steps["cache"]["status"] == "completed"
    # The run's final record (the grown plan, known written) keeps the step's state.
    await graph.record_run(RunRecord(workflow_id="wf1", request=PLAN.request,
                                     status=RunStatus.COMPLETED, plan=GROWN, steps=[done]))
    run = await graph.run_graph("wf1")
    assert run.status == "completed" and run.steps["cache"]["status"] == "completed"


async def test_a_run_following_another_links_to_it(graph: GraphStore) -> None:
    await graph.record_run(_run("wf1", RunStatus.COMPLETED))
    follower = _run("wf2", RunStatus.COMPLETED).model_copy(update={"follows": "wf1"})
    await graph.record_run(follower)
    before = await graph.counts()
    await graph.record_run(follower)
    assert await graph.counts() == before and before["FOLLOWS"] == 1
    assert await _followed(graph, "wf2") == ["wf1"]
    assert await _followed(graph, "wf1") == []
    # A run following one the graph never saw (a dry run) links to nothing.
    await graph.record_run(_run("wf3").model_copy(update={"follows": "dry-run"}))
    assert await _followed(graph, "wf3") == []
    assert (await graph.counts())["Workflow"] == 3
