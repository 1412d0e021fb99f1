"""The plan memory's read, and plan reuse over it: requests of completed runs only,
with the runs they came from, on every backend."""

from __future__ import annotations

from orchestrator.graph.store import CompletedRun, GraphStore
from orchestrator.models import RunStatus
from orchestrator.planning.offline import OfflinePlanner
from tests.contract.test_graph_store import PLAN, _run
from tests.integration.stack import S1
from tests.plan_runs import carry_out
from tests.unit.test_reuse import REGISTRY, SIMILAR


async def test_completed_plans_are_those_of_completed_runs(graph: GraphStore) -> None:
    await graph.record_run(_run("done", RunStatus.COMPLETED))
    await graph.record_run(_run("undone", RunStatus.ROLLED_BACK))
    await graph.record_run(_run("running"))
    assert await graph.completed_runs() == [
        CompletedRun(workflow_id="done", request=PLAN.request, intent=PLAN.intent)
    ]


async def test_completed_runs_come_newest_first(graph: GraphStore) -> None:
    for wf in ("wf-1", "wf-3", "wf-2"):
        await graph.record_run(_run(wf, RunStatus.COMPLETED))
    assert [r.workflow_id for r in await graph.completed_runs(limit=2)] == ["wf-3", "wf-2"]


async def test_a_completed_plan_is_renamed_for_a_request_shaped_like_it(
    graph: GraphStore,
) -> None:
    first = await OfflinePlanner(REGISTRY, graph, reuse_plans=False).plan(S1)
    await carry_out(graph, first, "wf-s1")
    reused = await OfflinePlanner(REGISTRY, graph).plan(SIMILAR)
    synthesised = await OfflinePlanner(REGISTRY, graph, reuse_plans=False).plan(SIMILAR)
    assert reused.reused_from == "wf-s1"
    assert reused.model_copy(update={"reused_from": None, "reuse_similarity": None}) == synthesised


async def test_a_plan_that_did_not_complete_is_not_reused(graph: GraphStore) -> None:
    first = await OfflinePlanner(REGISTRY, graph, reuse_plans=False).plan(S1)
    await carry_out(graph, first, "wf-s1", RunStatus.FAILED)
    assert (await OfflinePlanner(REGISTRY, graph).plan(SIMILAR)).reused_from is None
