"""The completed runs the plan memory reads, kept from this process's own
mirroring: after any mix of writes they are what the graph itself answers."""

from __future__ import annotations

from datetime import UTC, datetime

from orchestrator.graph.cypher_store import CypherStore
from orchestrator.graph.store import GraphStore
from orchestrator.models import RunRecord, RunStatus, StepStatus
from tests.contract.test_graph_store import PLAN, _run, _step


async def _as_the_graph_says(graph: GraphStore) -> None:
    assert isinstance(graph, CypherStore)
    kept = await graph.completed_runs()
    assert kept == await graph._read_completed_runs(500)
    assert await graph.completed_runs(limit=2) == kept[:2]


async def test_completed_runs_follow_final_mirrors_in_order(graph: GraphStore) -> None:
    def finished(wf: str, status: RunStatus, minute: int) -> RunRecord:
        done = _run(wf, status, [_step(wf, "app", StepStatus.COMPLETED)])
        return done.model_copy(update={"finished_at": datetime(2026, 1, 1, 12, minute, tzinfo=UTC)})

    await graph.record_run(finished("wf-5", RunStatus.COMPLETED, 0))
    assert [r.workflow_id for r in await graph.completed_runs()] == ["wf-5"]  # now kept
    for minute, (wf, status) in enumerate([
        ("wf-7", RunStatus.COMPLETED), ("wf-1", RunStatus.COMPLETED),
        ("wf-9", RunStatus.ROLLED_BACK), ("wf-3", RunStatus.COMPLETED),
    ], start=1):
        await graph.record_run(_run(wf))  # the plan's early mirror first
        await graph.record_run(finished(wf, status, minute))
        await _as_the_graph_says(graph)
    runs = await graph.completed_runs()
    # The last to finish first, whatever their ids.
    assert [r.workflow_id for r in runs] == ["wf-3", "wf-1", "wf-7", "wf-5"]
    assert {(r.request, r.intent) for r in runs} == {(PLAN.request, PLAN.intent)}


async def test_writes_the_list_cannot_follow_are_read_again(graph: GraphStore) -> None:
    await graph.completed_runs()
    # A finished run's only record, with no step states: listed only if new.
    await graph.record_run(_run("wf-2", RunStatus.COMPLETED))
    await _as_the_graph_says(graph)
    await graph.record_run(_run("wf-2", RunStatus.FAILED, [_step("wf-2", "app",
                                                                   StepStatus.FAILED)]))
    await _as_the_graph_says(graph)
    assert await graph.completed_runs() == []


async def test_a_dry_run_takes_the_median_stage_overhead_of_the_last_runs(
    graph: GraphStore,
) -> None:
    assert await graph.stage_overhead_ms() is None
    for minute, (wf, status, overhead) in enumerate([
        ("wf-1", RunStatus.COMPLETED, 500.0), ("wf-2", RunStatus.COMPLETED, 10.0),
        ("wf-3", RunStatus.ROLLED_BACK, 900.0), ("wf-4", RunStatus.COMPLETED, 20.0),
        ("wf-5", RunStatus.COMPLETED, None),
    ]):
        record = _run(wf, status, [_step(wf, "app", StepStatus.COMPLETED)]).model_copy(
            update={"finished_at": datetime(2026, 1, 1, 12, minute, tzinfo=UTC),
                    "stage_overhead_ms": overhead})
        await graph.record_run(record)
    # Completed runs that measured it only: 500, 10 and 20.
    assert await graph.stage_overhead_ms() == 20.0
