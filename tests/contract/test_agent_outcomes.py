"""Agents' statistics from runs' outcomes: counted once however often, and however
concurrently, the final mirror is written."""

from __future__ import annotations

import asyncio

import pytest

from orchestrator.graph.store import GraphStore
from orchestrator.models import Outcome, RunStatus, StepStatus
from tests.contract.test_graph_store import AGENTS, CAPABILITIES, _run, _step


async def test_outcomes_count_once_and_record_every_agent_tried(graph: GraphStore) -> None:
    await graph.register_catalogue(CAPABILITIES, AGENTS)
    final = _run("wf", RunStatus.COMPLETED, [_step("wf", "app", StepStatus.COMPLETED)]).model_copy(
        update={"outcomes": [
            # The first agent failed for good; the step moved to the spare one.
            Outcome(step_id="app", agent="application-agent", capability="application.create",
                    ok=False, duration_ms=30),
            Outcome(step_id="app", agent="spare-agent", capability="application.create",
                    ok=True, duration_ms=10),
            Outcome(step_id="svc", agent="service-agent", capability="service.create",
                    ok=True, duration_ms=20),
        ]}
    )
    await graph.record_run(final)
    await asyncio.gather(*(graph.record_run(final) for _ in range(3)))
    await graph.record_run(final)
    stats = await graph.agent_stats()
    assert stats["application-agent/application.create"].model_dump() == {
        "runs": 1, "successes": 0, "total_ms": 30, "recent_ms": 30.0, "recent_ok": 0.0}
    assert stats["spare-agent/application.create"].model_dump() == {
        "runs": 1, "successes": 1, "total_ms": 10, "recent_ms": 10.0, "recent_ok": 1.0}
    assert stats["service-agent/service.create"].runs == 1
    tried = sorted(a for s, a in (await graph.run_graph("wf")).executed_by if s == "app")
    assert tried == ["application-agent", "spare-agent"]

    second = final.model_copy(update={"workflow_id": "wf2", "outcomes": [
        Outcome(step_id="app", agent="spare-agent", capability="application.create",
                ok=True, duration_ms=60)]})
    await graph.record_run(second)
    spare = (await graph.agent_stats())["spare-agent/application.create"]
    # The recent duration moves a fifth of the way to the latest run's; the mean halves.
    assert (spare.runs, spare.total_ms, spare.recent_ms) == (2, 70, 20.0)
    # What the statistics' cache says is what the graph holds.
    stored = next(a for a in await graph.list_agents() if a.id == "spare-agent")
    assert stored.capabilities["application.create"] == spare

    # A failure moves the recent success rate a fifth of the way down.
    third = second.model_copy(update={"workflow_id": "wf3", "outcomes": [
        Outcome(step_id="app", agent="spare-agent", capability="application.create",
                ok=False, duration_ms=20)]})
    await graph.record_run(third)
    spare = (await graph.agent_stats())["spare-agent/application.create"]
    assert (spare.runs, spare.successes) == (3, 2)
    assert spare.recent_ok == pytest.approx(0.8)
    stored = next(a for a in await graph.list_agents() if a.id == "spare-agent")
    assert stored.capabilities["application.create"] == spare
