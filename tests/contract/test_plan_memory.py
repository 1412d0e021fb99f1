"""The plan memory's read: requests of completed runs only, on every backend."""

from __future__ import annotations

from orchestrator.graph.store import GraphStore
from orchestrator.models import RunStatus
from tests.contract.test_graph_store import PLAN, _run


async def test_completed_plans_are_those_of_completed_runs(graph: GraphStore) -> None:
    await graph.record_run(_run("done", RunStatus.COMPLETED))
    await graph.record_run(_run("undone", RunStatus.ROLLED_BACK))
    await graph.record_run(_run("running"))
    assert await graph.completed_plans() == [(PLAN.request, PLAN.intent)]
