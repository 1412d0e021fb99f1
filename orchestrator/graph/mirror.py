"""Write-behind mirroring of plans and step progress.

A run's plan and each step's start and finish are mirrored as they happen, but
nothing waits for the graph and nothing fails because of it: records queue here
and one writer stores them in batches (one statement for many steps, where the
cost of a statement is mostly its compilation). What a crash or an outage loses
here is written again by the run's final mirror, which carries the plan and
every step's final state and retries until the graph takes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from orchestrator.graph.store import GraphStore
from orchestrator.models import RunRecord, StepRecord

log = logging.getLogger(__name__)
RETRY_S = (0.2, 1.0, 5.0)
# Nobody waits for these writes, so they wait for company: under load one
# statement then carries many steps instead of a few. A plan goes out soon, so
# the run's final mirror finds it written and need not carry it on the run's
# path; step states wait longer, and those of a run that ends meanwhile (most
# runs of a few steps) are already in the graph, written by its final mirror,
# and cost nothing more.
PLAN_LINGER_S = 0.02
STEP_LINGER_S = 0.1


class WriteBehindMirror:
    def __init__(self, store: GraphStore, plan_linger_s: float = PLAN_LINGER_S,
                 step_linger_s: float = STEP_LINGER_S) -> None:
        self._store = store
        self._plan_linger_s = plan_linger_s
        self._step_linger_s = step_linger_s
        self._pending: dict[tuple[str, str, bool], StepRecord] = {}
        self._plans: list[RunRecord] = []
        self._wake = asyncio.Event()
        # Set when a plan is queued: it cuts the steps' longer wait short.
        self._plan_queued = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._writer: asyncio.Task[None] | None = None

    def submit(self, record: StepRecord) -> None:
        """Queue a record; a later record of the same step replaces an unwritten one."""
        self._pending[(record.workflow_id, record.step_id, record.undo)] = record
        self._wake_writer()

    def submit_plan(self, record: RunRecord) -> None:
        """Queue a run's plan; it is written before step records batched with it."""
        self._plans.append(record)
        self._plan_queued.set()
        self._wake_writer()

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
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._step_linger_s):
                    await self._plan_queued.wait()
                    await asyncio.sleep(self._plan_linger_s)
            self._wake.clear()
            self._plan_queued.clear()
            plans, self._plans = self._plans, []
            steps, self._pending = list(self._pending.values()), {}
            await self._write(plans, steps)
            if not self._pending and not self._plans:
                self._idle.set()

    async def _write(self, plans: list[RunRecord], steps: list[StepRecord]) -> None:
        for delay in (*RETRY_S, None):
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
