"""The completed runs the plan memory reads, kept up to date from this process's
own mirroring instead of read again for every plan.

The read scans every completed run's workflow and plan and sorts them: the cost
grows with the graph, and every plan pays it. The runs this process mirrors are
known exactly when their final mirror commits (a completed run with its plan
joins the list in its place), so the list is read once and then maintained; a
write it cannot account for exactly drops it. Runs that other processes complete
are read once the list is `MAX_AGE_S` old: the plan that finds it so gets it at
once and starts the read for the plans after it (the read took 11 ms with 20,000
runs stored, and with requests seconds apart every plan waited for it otherwise).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable

from orchestrator.graph.batching import ignore_failure, stop
from orchestrator.graph.overtaking import opening
from orchestrator.graph.rows import epoch_ms
from orchestrator.graph.store import CompletedRun
from orchestrator.models import RunRecord, RunStatus

MAX_AGE_S = 5.0
# As many as the plan memory asks for: a read of more goes to the graph.
KEPT = 500


class RecentRuns:
    def __init__(self, read: Callable[[int], Awaitable[list[CompletedRun]]],
                 max_age_s: float = MAX_AGE_S) -> None:
        self._read = read
        self._max_age_s = max_age_s
        # The last to finish first, as the graph orders them (COMPLETED_PLANS).
        self._runs: list[CompletedRun] | None = None
        self._read_at = 0.0
        # Bumped by a write the list cannot account for: a read begun before it is
        # not kept.
        self._version = 0
        # Runs mirrored while reads were under way, one list per read: a read may
        # or may not show them, so they are applied to what it returns (applying
        # a run twice changes nothing).
        self._reads: list[list[RunRecord]] = []
        self._refreshing: asyncio.Task[list[CompletedRun]] | None = None

    async def get(self, limit: int) -> list[CompletedRun]:
        if limit > KEPT:
            return await self._read(limit)
        if self._runs is None:
            if self._refreshing is not None and not self._refreshing.done():
                # The first read, under way (`prefetch`): kept, unless a write
                # came meanwhile that it cannot account for.
                await asyncio.shield(self._refreshing)
                if self._runs is not None:
                    return self._runs[:limit]
            return (await self._read_kept())[:limit]
        if time.monotonic() - self._read_at >= self._max_age_s and (
            self._refreshing is None or self._refreshing.done()
        ):
            # For the next plans, off this one's path.
            self._refreshing = asyncio.get_running_loop().create_task(self._read_kept())
            self._refreshing.add_done_callback(ignore_failure)
        # The runs are frozen: copying up to KEPT of them cost each plan ~2 ms.
        return self._runs[:limit]

    async def _read_kept(self) -> list[CompletedRun]:
        """Read the newest KEPT runs and keep them, unless a write this cannot
        account for came meanwhile."""
        version, started = self._version, time.monotonic()
        meanwhile: list[RunRecord] = []
        self._reads.append(meanwhile)
        try:
            runs = await self._read(KEPT)
        finally:
            self._reads.remove(meanwhile)
        for record in meanwhile:
            self._apply(runs, record)
        if version == self._version:
            self._runs, self._read_at = runs, started
        return runs

    def prefetch(self) -> None:
        """Start the first read now, off the first plan's path."""
        if self._runs is None and (self._refreshing is None or self._refreshing.done()):
            self._refreshing = asyncio.get_running_loop().create_task(self._read_kept())
            self._refreshing.add_done_callback(ignore_failure)

    async def close(self) -> None:
        refreshing, self._refreshing = self._refreshing, None
        await stop(refreshing)

    def forget(self) -> None:
        self._version += 1
        self._runs = None

    def mirrored(self, records: Iterable[RunRecord]) -> None:
        """These runs' records were committed: completed runs join the list."""
        records = list(records)
        for meanwhile in self._reads:
            meanwhile += records
        for record in records:
            if self._runs is None:
                return
            self._apply(self._runs, record)

    def _apply(self, runs: list[CompletedRun], record: RunRecord) -> None:
        if opening(record) and record.status != RunStatus.COMPLETED:
            # A plan just made only creates what the graph does not hold yet, and
            # not as completed: it changes nothing listed, even when it lands
            # after its run's final mirror (which it may, being written behind).
            return
        listed = [run for run in runs if run.workflow_id == record.workflow_id]
        if record.status != RunStatus.COMPLETED:
            if listed:  # a completed run written again as something else
                self.forget()
            return
        # A completed record without a plan lists the run only if an earlier
        # record gave it one: not known here.
        if record.plan is None or not record.steps:
            self.forget()
            return
        for run in listed:
            runs.remove(run)
        runs.append(CompletedRun(
            workflow_id=record.workflow_id, request=record.plan.request,
            intent=record.plan.intent, finished=epoch_ms(record.finished_at),
        ))
        runs.sort(key=lambda run: (run.finished, run.workflow_id), reverse=True)
        del runs[KEPT:]
