"""Runs ended from outside Temporal's workflow code (terminated in the Web UI or
the CLI, timed out) never reach their own final mirror: the graph would show
them going for ever, among an entity's runs and in the run's graph view. The
worker looks, when it starts and every SETTLE_EVERY_S after, at the runs the
graph holds as going, and mirrors the end of those Temporal says have ended so.

A run that ends by its own code writes its final mirror before it completes (on
the embedded graph, journals it: orchestrator/graph/handover.py), so Temporal's
"completed" is left alone (the mirror may land between the two reads); a run
Temporal does not know (another namespace sharing the graph) too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from orchestrator.graph.store import GraphStore
from orchestrator.models import RunRecord, RunStatus
from worker.client import run_handle

log = logging.getLogger(__name__)
SETTLE_EVERY_S = 60.0
_ENDED_OUTSIDE = frozenset({
    WorkflowExecutionStatus.TERMINATED, WorkflowExecutionStatus.TIMED_OUT,
    WorkflowExecutionStatus.FAILED, WorkflowExecutionStatus.CANCELED,
})


def how_ended(status: WorkflowExecutionStatus) -> str:
    """Temporal's status in words: "terminated", "timed out"."""
    return status.name.lower().replace("_", " ")


def ended_outside(status: WorkflowExecutionStatus) -> str:
    """What a run ended from outside is told as, in the API and in the graph."""
    return (f"the run was {how_ended(status)} from outside (Temporal): its steps stopped "
            "where they were and nothing was rolled back")


async def settle_ended_runs(client: Client, store: GraphStore) -> list[str]:
    """Mirror the end of the runs the graph holds as going that ended from outside;
    their ids."""
    settled = []
    for workflow_id, request in await store.unfinished_runs():
        try:
            described = await run_handle(client, workflow_id).describe()
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                continue
            raise
        if described.status not in _ENDED_OUTSIDE:
            continue
        assert described.status is not None
        await store.record_run(RunRecord(
            workflow_id=workflow_id, request=request, status=RunStatus.FAILED,
            error=ended_outside(described.status), finished_at=described.close_time,
        ))
        settled.append(workflow_id)
    if settled:
        log.info("mirrored the end of %d run(s) ended from outside: %s",
                 len(settled), ", ".join(settled))
    return settled


@contextlib.asynccontextmanager
async def settling(
    client: Client, store: GraphStore, every_s: float = SETTLE_EVERY_S
) -> AsyncIterator[None]:
    """Settle runs ended from outside while the block runs (first at once)."""
    task = asyncio.create_task(_settle_forever(client, store, every_s), name="settle-runs")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _settle_forever(client: Client, store: GraphStore, every_s: float) -> None:
    while True:
        try:
            await settle_ended_runs(client, store)
        except Exception as err:  # the graph or Temporal down: the next round tries
            log.warning("could not settle runs ended from outside: %s", err)
        await asyncio.sleep(every_s)
