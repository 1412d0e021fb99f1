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


async def test_each_try_of_an_undo_tried_again_counts_once(graph: GraphStore) -> None:
    await graph.register_catalogue(CAPABILITIES, AGENTS)

    def undo(retry: int, ok: bool) -> Outcome:
        # The capability stands for the undo's: what counts here is how it is keyed.
        return Outcome(step_id="svc", agent="service-agent", capability="service.create",
                       ok=ok, duration_ms=10, undo=True, retry=retry)

    run = _run("wf", RunStatus.ROLLBACK_INCOMPLETE, [_step("wf", "svc", StepStatus.COMPLETED)])
    waiting = run.model_copy(update={"outcomes": [undo(0, False)]})
    ended = run.model_copy(update={"status": RunStatus.ROLLED_BACK,
                                   "outcomes": [undo(0, False), undo(1, False), undo(2, True)]})
    for record in (waiting, waiting, ended, ended):  # each mirrored again, as activities are
        await graph.record_run(record)
    stored = next(a for a in await graph.list_agents() if a.id == "service-agent")
    counted = stored.capabilities["service.create"]
    assert (counted.runs, counted.successes) == (3, 1)
    assert (await graph.agent_stats())["service-agent/service.create"] == counted
