"""A run's final mirror goes out beside the write-behind only when the order of
the two cannot matter; either way the graph ends with the run's final states."""

from __future__ import annotations

import asyncio
from pathlib import Path

from orchestrator.graph.embedded import EmbeddedGraphStore
from orchestrator.graph.overtaking import may_overtake
from orchestrator.models import Plan, RunRecord, RunStatus, Step, StepRecord, StepStatus

PLAN = Plan(intent="t", request="t", steps=[
    Step(id="a", capability="application.create", agent="application-agent"),
    Step(id="b", capability="service.create", agent="service-agent", depends_on=["a"]),
])


def _state(step: str, status: StepStatus, wf: str = "wf") -> StepRecord:
    return StepRecord(workflow_id=wf, step_id=step, capability="application.create",
                      agent="application-agent", status=status, attempt=1)


FINAL = RunRecord(workflow_id="wf", request="t", status=RunStatus.COMPLETED, plan=PLAN,
                  steps=[_state("a", StepStatus.COMPLETED), _state("b", StepStatus.COMPLETED)])
OPENING = RunRecord(workflow_id="wf", request="t", status=RunStatus.RUNNING, plan=PLAN)


def test_a_final_overtakes_the_same_states_and_other_runs() -> None:
    assert may_overtake(FINAL, [])
    assert may_overtake(FINAL, [[_state("b", StepStatus.COMPLETED)], OPENING])
    assert may_overtake(FINAL, [[_state("b", StepStatus.RUNNING, wf="other")]])


def test_a_final_waits_behind_an_earlier_state_of_its_run() -> None:
    assert not may_overtake(FINAL, [[_state("b", StepStatus.RUNNING)]])
    assert not may_overtake(FINAL, [[_state("c", StepStatus.COMPLETED)]])  # not in the final
    assert not may_overtake(FINAL, [FINAL])  # another final of the run: in order
    assert not may_overtake(OPENING, [])  # a plan's record is write-behind itself


async def test_the_graph_ends_with_the_final_states_either_way(tmp_path: Path) -> None:
    store = EmbeddedGraphStore(tmp_path / "g")
    await store.setup()
    try:
        await store.record_run(OPENING)
        # Queued together: a stale state of b holds the final behind it.
        await asyncio.gather(store.record_steps([_state("b", StepStatus.RUNNING)]),
                             store.record_run(FINAL))
        graph = await store.run_graph("wf")
        assert graph.steps["b"]["status"] == "completed"
        # The same state as the final's: the final goes out beside it.
        await asyncio.gather(store.record_steps([_state("a", StepStatus.COMPLETED)]),
                             store.record_run(FINAL))
        graph = await store.run_graph("wf")
        assert {s["status"] for s in graph.steps.values()} == {"completed"}
        assert graph.status == "completed"
    finally:
        await store.close()
