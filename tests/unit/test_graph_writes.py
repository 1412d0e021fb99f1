"""The embedded store on disk, its batched writers and the write-behind step mirror."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from orchestrator.graph.batching import GroupCommit
from orchestrator.graph.embedded import EmbeddedGraphStore
from orchestrator.graph.mirror import WriteBehindMirror
from orchestrator.models import (
    EntityRef,
    Plan,
    RunRecord,
    RunStatus,
    Step,
    StepRecord,
    StepStatus,
)

APP = EntityRef(kind="application", name="shop")
PLAN = Plan(intent="t", request="t", steps=[
    Step(id="a", capability="application.create", agent="application-agent"),
])


def _record(status: StepStatus, attempt: int = 1) -> StepRecord:
    return StepRecord(workflow_id="wf", step_id="a", capability="application.create",
                      agent="application-agent", status=status, attempt=attempt)


async def test_store_survives_a_restart(tmp_path: Path) -> None:
    store = EmbeddedGraphStore(tmp_path / "g")
    await store.setup()
    await store.claim_entity(APP, "wf/a", {"tier": "gold"})
    await store.close()
    reopened = EmbeddedGraphStore(tmp_path / "g")
    await reopened.setup()
    entity = await reopened.get_entity(APP)
    await reopened.close()
    assert entity is not None and entity.created_by == "wf/a" and entity.attrs == {"tier": "gold"}


async def test_claim_keeps_the_first_owner(store: EmbeddedGraphStore) -> None:
    first = await store.claim_entity(APP, "wf/a", {})
    again = await store.claim_entity(APP, "wf/b", {})
    assert first.created_by == again.created_by == "wf/a"
    assert (await store.release_entity(APP, "wf/b")).deleted is False
    assert (await store.release_entity(APP, "wf/a")).deleted is True
    assert await store.get_entity(APP) is None


async def test_record_run_is_idempotent_and_batches(store: EmbeddedGraphStore) -> None:
    plan = Plan(intent="t", request="t", steps=[
        Step(id="a", capability="application.create", agent="application-agent"),
        Step(id="b", capability="service.create", agent="service-agent", depends_on=["a"]),
    ])
    records = [RunRecord(workflow_id=f"wf{i}", request="t", status=RunStatus.RUNNING, plan=plan)
               for i in range(3)]
    for _ in range(3):  # written three times, concurrently: the same graph
        await asyncio.gather(*(store.record_run(r) for r in records))
    for record in records:
        graph = await store.run_graph(record.workflow_id)
        assert sorted(graph.steps) == ["a", "b"]
        assert graph.depends_on == [("b", "a")]
        assert graph.executed_by == [("a", "application-agent"), ("b", "service-agent")]


async def test_final_mirror_alone_writes_the_whole_run(store: EmbeddedGraphStore) -> None:
    """The plan's early mirror is write-behind; if it was lost, the final one suffices."""
    final = RunRecord(workflow_id="wf", request="t", status=RunStatus.COMPLETED, plan=PLAN,
                      steps=[_record(StepStatus.COMPLETED)])
    await store.record_run(final)
    graph = await store.run_graph("wf")
    assert graph.status == "completed" and graph.steps["a"]["status"] == "completed"
    assert graph.executed_by == [("a", "application-agent")]


async def test_a_late_plan_mirror_does_not_reopen_a_finished_run(tmp_path: Path) -> None:
    opening = RunRecord(workflow_id="wf", request="t", status=RunStatus.RUNNING, plan=PLAN)
    final = opening.model_copy(update={"status": RunStatus.COMPLETED,
                                       "steps": [_record(StepStatus.COMPLETED)]})
    store = EmbeddedGraphStore(tmp_path / "g")
    await store.setup()
    await store.record_run(opening)
    await store.record_run(final)
    await store.record_run(opening)  # known here to be written: skipped
    await store.close()
    reopened = EmbeddedGraphStore(tmp_path / "g")  # knows nothing: the Cypher must hold
    await reopened.setup()
    await reopened.record_run(opening)
    graph = await reopened.run_graph("wf")
    await reopened.close()
    assert graph.status == "completed" and graph.steps["a"]["status"] == "completed"


async def test_step_mirror_writes_the_latest_state(store: EmbeddedGraphStore) -> None:
    plan = Plan(intent="t", request="t", steps=[
        Step(id="a", capability="application.create", agent="application-agent"),
    ])
    await store.record_run(RunRecord(workflow_id="wf", request="t", status=RunStatus.RUNNING,
                                     plan=plan))
    mirror = WriteBehindMirror(store)
    mirror.submit(_record(StepStatus.RUNNING))
    mirror.submit(_record(StepStatus.COMPLETED, attempt=2))
    await mirror.close()
    graph = await store.run_graph("wf")
    assert graph.steps["a"]["status"] == "completed" and graph.steps["a"]["attempt"] == 2


async def test_a_runs_final_mirror_is_the_last_word_on_its_steps(
    store: EmbeddedGraphStore,
) -> None:
    # A step completed, then the rollback compensated it, all while its
    # "completed" record still waited for company in the mirror.
    mirror = WriteBehindMirror(store, linger_s=0.2)
    mirror.submit_plan(RunRecord(workflow_id="wf", request="t", status=RunStatus.RUNNING,
                                 plan=PLAN))
    mirror.submit(_record(StepStatus.COMPLETED))
    mirror.finished("wf")
    await store.record_run(RunRecord(
        workflow_id="wf", request="t", status=RunStatus.ROLLED_BACK, plan=PLAN,
        steps=[_record(StepStatus.COMPENSATED)],
    ))
    mirror.submit(_record(StepStatus.RUNNING, attempt=2))  # an attempt ending late
    await mirror.close()
    graph = await store.run_graph("wf")
    assert graph.status == "rolled_back"
    assert graph.steps["a"]["status"] == "compensated" and graph.steps["a"]["attempt"] == 1


async def test_step_mirror_never_raises_when_the_graph_fails(
    store: EmbeddedGraphStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []

    async def broken(records: list[StepRecord]) -> None:
        calls.append(len(records))
        raise RuntimeError("graph down")

    monkeypatch.setattr("orchestrator.graph.mirror.RETRY_S", (0.0,))
    monkeypatch.setattr(store, "record_steps", broken)
    mirror = WriteBehindMirror(store)
    mirror.submit(_record(StepStatus.RUNNING))
    await mirror.close()
    assert calls == [1, 1]  # tried, retried, then left to the run's final mirror


async def test_group_commit_batches_waiters_and_reports_failures() -> None:
    batches: list[list[int]] = []

    async def write(items: list[int]) -> None:
        batches.append(items)
        await asyncio.sleep(0.01)
        if 13 in items:
            raise ValueError("unlucky")

    commit = GroupCommit(write)
    first = asyncio.create_task(commit.write(0))
    await asyncio.sleep(0)  # the first batch is being written...
    await asyncio.gather(first, *(commit.write(i) for i in range(1, 5)))
    assert batches == [[0], [1, 2, 3, 4]]  # ...and the rest queued for the next
    with pytest.raises(ValueError, match="unlucky"):
        await commit.write(13)


async def test_a_retried_batch_does_not_land_after_its_runs_final_mirror(
    store: EmbeddedGraphStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The graph refuses the write-behind's first try ("running"); while it waits
    # to try again the run finishes and its final mirror is written.
    await store.record_run(RunRecord(workflow_id="wf", request="t", status=RunStatus.RUNNING,
                                     plan=PLAN))
    tried = asyncio.Event()
    record_steps = store.record_steps

    async def down_once(records: list[StepRecord]) -> None:
        if not tried.is_set():
            tried.set()
            raise RuntimeError("graph down")
        await record_steps(records)

    monkeypatch.setattr("orchestrator.graph.mirror.RETRY_S", (0.3,))
    monkeypatch.setattr(store, "record_steps", down_once)
    mirror = WriteBehindMirror(store, linger_s=0.0)
    mirror.submit(_record(StepStatus.RUNNING))
    await tried.wait()
    mirror.finished("wf")
    await store.record_run(RunRecord(
        workflow_id="wf", request="t", status=RunStatus.COMPLETED, plan=PLAN,
        steps=[_record(StepStatus.COMPLETED)],
    ))
    await mirror.close()
    assert (await store.run_graph("wf")).steps["a"]["status"] == "completed"
