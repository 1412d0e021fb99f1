"""The embedded store takes runs' final mirrors over (orchestrator/graph/handover.py):
readers still see them first, and a process ending before the write loses none."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from orchestrator.graph import handover
from orchestrator.graph.embedded import EmbeddedGraphStore
from orchestrator.models import (
    EntityRef,
    Outcome,
    Plan,
    RunRecord,
    RunStatus,
    Step,
    StepRecord,
    StepStatus,
)
from tests.contract.test_graph_store import AGENTS, CAPABILITIES

PLAN = Plan(intent="application", request="create application shop", steps=[
    Step(id="a", capability="application.create", agent="application-agent"),
])
SLOW_S = 0.3
APP = EntityRef(kind="application", name="shop")
KEY = "application-agent/application.create"


def final(workflow_id: str) -> RunRecord:
    return RunRecord(
        workflow_id=workflow_id, request=PLAN.request, status=RunStatus.COMPLETED, plan=PLAN,
        steps=[StepRecord(workflow_id=workflow_id, step_id="a", capability="application.create",
                          agent="application-agent", status=StepStatus.COMPLETED, attempt=1)],
        outcomes=[Outcome(step_id="a", agent="application-agent",
                          capability="application.create", ok=True, duration_ms=5)],
        finished_at=datetime.now(UTC),
    )


def journal(path: Path) -> Path:
    return path.with_name(path.name + ".finals")


def journaled(path: Path) -> str:
    return "".join(p.read_text() for p in sorted(journal(path).glob("finals-*.jsonl")))


async def opened(path: Path) -> EmbeddedGraphStore:
    store = EmbeddedGraphStore(path)
    await store.setup()
    return store


async def completed_after_reopening(path: Path) -> object:
    """The runs a store opened afresh on `path` holds as completed (what its
    journal held written first)."""
    store = await opened(path)
    try:
        return await _completed(store)
    finally:
        await store.close()


def gated(store: EmbeddedGraphStore, monkeypatch: pytest.MonkeyPatch,
          gate: Callable[[], Awaitable[object]]) -> None:
    """Every write of the store first awaits `gate` (which may hold it, or fail it)."""
    write = store._transaction

    async def after_gate(writes: list[tuple[str, dict[str, object]]]) -> None:
        await gate()
        await write(writes)

    monkeypatch.setattr(store, "_transaction", after_gate)


async def refuse() -> None:
    raise RuntimeError("disk full")


def slowed(store: EmbeddedGraphStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """Writes SLOW_S longer: a reader that did not wait for a final mirror taken
    before it would read without it."""
    gated(store, monkeypatch, lambda: asyncio.sleep(SLOW_S))


@pytest.fixture
async def slow_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[EmbeddedGraphStore]:
    """A real embedded store whose writes are slowed."""
    store = await opened(tmp_path / "g")
    slowed(store, monkeypatch)
    yield store
    await store.close()


async def test_only_a_finished_run_is_taken(slow_store: EmbeddedGraphStore) -> None:
    going = final("wf-going").model_copy(update={"status": RunStatus.RUNNING})
    assert slow_store.hand_over_run(going) is False
    assert slow_store.hand_over_run(final("wf-done")) is True


async def _status(store: EmbeddedGraphStore) -> object:
    return (await store.run_graph("wf-1")).status


async def _completed(store: EmbeddedGraphStore) -> object:
    return [run.workflow_id for run in await store.completed_runs()]


async def _runs_counted(store: EmbeddedGraphStore) -> object:
    return (await store.agent_stats())[KEY].runs


@pytest.mark.parametrize(("read", "after"), [
    (_status, "completed"), (_completed, ["wf-1"]), (_runs_counted, 1),
])
async def test_a_read_after_a_run_is_taken_sees_it(
    slow_store: EmbeddedGraphStore,
    read: Callable[[EmbeddedGraphStore], Awaitable[object]], after: object,
) -> None:
    await slow_store.register_catalogue(CAPABILITIES, AGENTS)
    # Read once first, so the caches hold the graph as it was before the run.
    assert await _completed(slow_store) == []
    assert await _runs_counted(slow_store) == 0
    assert slow_store.hand_over_run(final("wf-1"))
    assert await read(slow_store) == after


async def test_the_journal_empties_once_written(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(handover, "SEGMENT_BYTES", 1)  # a segment a record, while unwritten
    store = await opened(tmp_path / "g")
    for i in range(3):
        assert store.hand_over_run(final(f"wf-{i}"))
    assert journaled(tmp_path / "g").count("\n") == 3
    assert len(list(journal(tmp_path / "g").glob("finals-*.jsonl"))) == 3
    await store.completed_runs()  # waits for the writes
    assert journaled(tmp_path / "g") == ""
    assert len(list(journal(tmp_path / "g").glob("finals-*.jsonl"))) == 1  # the one in use
    await store.close()


KILLED = textwrap.dedent("""
    import asyncio, os, sys
    from pathlib import Path
    from orchestrator.graph.embedded import EmbeddedGraphStore
    from orchestrator.models import RunRecord

    async def main() -> None:
        store = EmbeddedGraphStore(Path(sys.argv[1]))
        await store.setup()
        assert store.hand_over_run(RunRecord.model_validate_json(sys.argv[2]))
        os._exit(9)  # before the event loop ever runs the write

    asyncio.run(main())
""")


def test_a_process_ending_before_the_write_loses_nothing(tmp_path: Path) -> None:
    record = final("wf-killed").model_dump_json()
    done = subprocess.run([sys.executable, "-c", KILLED, str(tmp_path / "g"), record],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 9, done.stderr
    assert "wf-killed" in journaled(tmp_path / "g")

    assert asyncio.run(completed_after_reopening(tmp_path / "g")) == ["wf-killed"]
    assert journaled(tmp_path / "g") == ""


async def test_a_line_cut_short_is_skipped(tmp_path: Path) -> None:
    journal(tmp_path / "g").mkdir()
    whole, cut = final("wf-whole").model_dump_json(), final("wf-cut").model_dump_json()
    (journal(tmp_path / "g") / "finals-1.jsonl").write_text(f"{whole}\n{cut[:-40]}")
    assert await completed_after_reopening(tmp_path / "g") == ["wf-whole"]


async def test_what_the_graph_refuses_stays_for_the_next_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(handover, "READ_WAIT_S", 0.5)
    store = await opened(tmp_path / "g")
    gated(store, monkeypatch, refuse)
    assert store.hand_over_run(final("wf-refused"))
    assert await store.completed_runs() == []  # answered without it, not hung
    await store.close()
    assert "wf-refused" in journaled(tmp_path / "g")
    assert await completed_after_reopening(tmp_path / "g") == ["wf-refused"]


async def test_an_entity_read_does_not_wait_for_a_run_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Agents and plans read entities: they must not wait for other runs' mirrors."""
    monkeypatch.setattr(handover, "READ_WAIT_S", 60.0)
    store = await opened(tmp_path / "g")
    await store.claim_entity(APP, "wf-0/a", {})
    release = asyncio.Event()
    gated(store, monkeypatch, release.wait)
    assert store.hand_over_run(final("wf-1"))
    entity = await asyncio.wait_for(store.get_entity(APP), 10)
    kinds = await asyncio.wait_for(store.find_entities("application"), 10)
    release.set()
    await store.close()
    assert entity is not None and [e.ref for e in kinds] == [APP]


async def test_closing_writes_what_was_taken(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    store = await opened(tmp_path / "g")
    slowed(store, monkeypatch)
    assert store.hand_over_run(final("wf-1"))
    await store.close()
    assert journaled(tmp_path / "g") == ""
    assert await completed_after_reopening(tmp_path / "g") == ["wf-1"]
