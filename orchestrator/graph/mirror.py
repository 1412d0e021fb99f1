"""Write-behind mirroring of plans and step progress.

A run's plan and each step's start and finish are mirrored as they happen, but
nothing waits for the graph and nothing fails because of it: records queue here
and one writer stores them in batches (one statement for many steps, where the
cost of a statement is mostly its compilation). What a crash or an outage loses
here is written again by the run's final mirror, which carries the plan and
every step's final state and retries until the graph takes it.

Once a run's final mirror is on its way, the final mirror is the last word on
the run: what still waits here for it is dropped, and what comes later (an
activity the run gave up on, ending late) is ignored, so that a stale state
(a step still "completed" that the rollback has since compensated) never lands
after it. A run's records reach a given process's mirror only from the
activities that process ran: with several workers, one's late record reaches the
graph after another's final mirror, and the graph drops it there (a final
state is replaced only by another final one: SET_STEP_STATES).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from orchestrator.graph.batching import RecentIds
from orchestrator.graph.store import GraphStore
from orchestrator.models import RunRecord, StepRecord

log = logging.getLogger(__name__)
RETRY_S = (0.2, 1.0, 5.0)
# Nobody waits for these writes, so they wait for company: under load one
# statement then carries many runs' plans and steps instead of a few. And a run
# that ends meanwhile (most runs of a few steps) has its final mirror carry its
# plan and states to the graph in the one transaction it makes anyway; what
# waited here is then known to be written and costs nothing more (a transaction
# costs far more than its rows: on Neo4j ~3 ms for ~150 db hits).
LINGER_S = 0.1


class WriteBehindMirror:
    def __init__(self, store: GraphStore, linger_s: float = LINGER_S) -> None:
        self._store = store
        self._linger_s = linger_s
        self._pending: dict[tuple[str, str, bool], StepRecord] = {}
        self._plans: list[RunRecord] = []
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._writer: asyncio.Task[None] | None = None
        self._finished = RecentIds()

    def submit(self, record: StepRecord) -> None:
        """Queue a record; a later record of the same step replaces an unwritten one."""
        if record.workflow_id in self._finished:
            return
        self._pending[(record.workflow_id, record.step_id, record.undo)] = record
        self._wake_writer()

    def submit_plan(self, record: RunRecord) -> None:
        """Queue a run's plan; it is written before step records batched with it."""
        if record.workflow_id in self._finished:
            return
        self._plans.append(record)
        self._wake_writer()

    def finished(self, workflow_id: str) -> None:
        """The run's final mirror is being written: it carries all this would."""
        self._finished.update([workflow_id])
        self._plans = [p for p in self._plans if p.workflow_id != workflow_id]
        self._pending = {k: r for k, r in self._pending.items() if k[0] != workflow_id}

    def _wake_writer(self) -> None:
        self._idle.clear()
        self._wake.set()
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_forever(), name="step-mirror")

    async def flush(self) -> None:
        """Wait until everything submitted so far is written (or given up on)."""
        await self._idle.wait()

    async def close(self) -> None:
        await self.flush()
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer

    async def _write_forever(self) -> None:
        while True:
            await self._wake.wait()
            await asyncio.sleep(self._linger_s)
            self._wake.clear()
            plans, self._plans = self._plans, []
            steps, self._pending = list(self._pending.values()), {}
            await self._write(plans, steps)
            if not self._pending and not self._plans:
                self._idle.set()

    async def _write(self, plans: list[RunRecord], steps: list[StepRecord]) -> None:
        for delay in (*RETRY_S, None):
            # A run whose final mirror went out while this batch waited to be
            # tried again: its records here are stale and must not land after it.
            plans = [p for p in plans if p.workflow_id not in self._finished]
            steps = [s for s in steps if s.workflow_id not in self._finished]
            if not plans and not steps:
                return
            try:
                # Issued together, they share the store's next group commit.
                writes = [self._store.record_run(p) for p in plans]
                if steps:
                    writes.append(self._store.record_steps(steps))
                await asyncio.gather(*writes)
                return
            except Exception as err:  # the graph being down must not stop the writer
                if delay is None:
                    log.warning("dropped %d plans and %d step records; the runs' final "
                                "mirrors rewrite them: %s", len(plans), len(steps), err)
                    return
                await asyncio.sleep(delay)
