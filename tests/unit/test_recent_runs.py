"""The completed runs the plan memory reads: kept from this process's own final
mirrors, and never a list read before a write that changed it."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import ValidationError

from orchestrator.graph.recent_runs import RecentRuns
from orchestrator.graph.store import CompletedRun
from orchestrator.models import Plan, RunRecord, RunStatus, StepRecord, StepStatus


class Graph:
    """Completed runs as the graph lists them, read with a delay while `slow` is set."""

    def __init__(self) -> None:
        self.runs: list[CompletedRun] = []
        self.reads = 0
        self.slow = asyncio.Event()
        self.slow.set()

    async def read(self, limit: int) -> list[CompletedRun]:
        self.reads += 1
        runs = list(self.runs)
        await self.slow.wait()
        return sorted(runs, key=lambda r: r.workflow_id, reverse=True)[:limit]


def completed(workflow_id: str) -> RunRecord:
    """A run's final mirror: completed, with its plan and its steps' states."""
    plan = Plan(intent="create application shop", request="create application shop", steps=[])
    step = StepRecord(workflow_id=workflow_id, step_id="create-application-shop",
                      capability="application.create", agent="application-agent",
                      status=StepStatus.COMPLETED, attempt=1)
    return RunRecord(workflow_id=workflow_id, request=plan.request,
                     status=RunStatus.COMPLETED, plan=plan, steps=[step])


def listed(workflow_id: str) -> CompletedRun:
    return CompletedRun(workflow_id=workflow_id, request="create application shop",
                        intent="create application shop")


async def test_one_read_then_this_process_s_runs_join_the_list() -> None:
    graph = Graph()
    graph.runs = [listed("run-a")]
    recent = RecentRuns(graph.read)
    assert [r.workflow_id for r in await recent.get(10)] == ["run-a"]
    recent.mirrored([completed("run-b")])
    assert [r.workflow_id for r in await recent.get(10)] == ["run-b", "run-a"]
    assert graph.reads == 1


async def test_a_list_older_than_its_age_is_handed_out_at_once_and_read_again() -> None:
    graph = Graph()
    graph.runs = [listed("run-a")]
    recent = RecentRuns(graph.read, max_age_s=0.0)
    await recent.get(10)
    graph.runs.append(listed("run-b"))  # another process completed a run
    graph.slow.clear()
    # The plan that finds the list old does not wait for the read it starts...
    stale = await asyncio.wait_for(recent.get(10), timeout=1.0)
    assert [r.workflow_id for r in stale] == ["run-a"] and graph.reads == 2
    graph.slow.set()
    await asyncio.sleep(0)
    # ...and the plans after it get what that read found.
    assert [r.workflow_id for r in await recent.get(10)] == ["run-b", "run-a"]
    await recent.close()


async def test_a_run_mirrored_during_a_read_is_in_what_the_read_returns_and_keeps() -> None:
    graph = Graph()
    graph.runs = [listed("run-a")]
    recent = RecentRuns(graph.read)
    graph.slow.clear()
    reading = asyncio.create_task(recent.get(10))  # reads the list without run-b
    await asyncio.sleep(0)
    graph.runs.append(listed("run-b"))
    recent.mirrored([completed("run-b")])  # run-b's final mirror commits meanwhile
    graph.slow.set()
    # The read did not see run-b, but run-b is applied to it: never a stale list,
    # and no second read (under steady load reads would otherwise keep colliding
    # with commits, and every plan would read again).
    assert [r.workflow_id for r in await reading] == ["run-b", "run-a"]
    assert [r.workflow_id for r in await recent.get(10)] == ["run-b", "run-a"]
    assert graph.reads == 1


@pytest.mark.parametrize("prefetched", [False, True])
async def test_a_read_that_a_write_it_cannot_account_for_overtook_is_not_kept(
    prefetched: bool,
) -> None:
    graph = Graph()
    graph.runs = [listed("run-a")]
    recent = RecentRuns(graph.read)
    graph.slow.clear()
    if prefetched:
        recent.prefetch()
        await asyncio.sleep(0)
    reading = asyncio.create_task(recent.get(10))
    await asyncio.sleep(0)
    graph.runs = []
    recent.forget()  # e.g. a deletion
    graph.slow.set()
    # A plan that came first gets the read it started; one that came after the
    # prefetch gets neither it nor anything older than the write.
    assert [r.workflow_id for r in await reading] == ([] if prefetched else ["run-a"])
    assert await recent.get(10) == []
    assert graph.reads == 2


async def test_a_completed_run_written_again_as_something_else_is_read_again() -> None:
    graph = Graph()
    graph.runs = [listed("run-a")]
    recent = RecentRuns(graph.read)
    await recent.get(10)
    recent.mirrored([completed("run-a").model_copy(update={"status": RunStatus.FAILED})])
    graph.runs = []
    assert await recent.get(10) == []
    assert graph.reads == 2


async def test_what_a_caller_gets_cannot_change_the_kept_list() -> None:
    graph = Graph()
    graph.runs = [listed("run-a"), listed("run-b")]
    recent = RecentRuns(graph.read)
    handed = await recent.get(10)
    handed.clear()  # a caller's own list
    again = await recent.get(10)
    assert [r.workflow_id for r in again] == ["run-b", "run-a"]
    # The runs themselves are shared, not copied: they cannot be changed.
    with pytest.raises(ValidationError, match="frozen"):
        setattr(again[0], "request", "something else")  # noqa: B010 - mypy knows it is read-only
    assert (await recent.get(10))[0].request == "create application shop"
    assert graph.reads == 1


async def test_a_prefetch_is_the_first_plans_read() -> None:
    graph = Graph()
    graph.runs = [listed("run-a")]
    recent = RecentRuns(graph.read)
    graph.slow.clear()
    recent.prefetch()
    await asyncio.sleep(0)
    reader = asyncio.create_task(recent.get(10))
    await asyncio.sleep(0)
    graph.slow.set()
    assert [r.workflow_id for r in await reader] == ["run-a"]
    assert graph.reads == 1

