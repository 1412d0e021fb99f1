"""Workflow-level mirroring into the graph (plan and finish of a run)."""

from __future__ import annotations

from temporalio import activity

from orchestrator.graph.mirror import WriteBehindMirror
from orchestrator.graph.store import GraphStore
from orchestrator.models import RunRecord


class GraphActivities:
    def __init__(self, store: GraphStore, mirror: WriteBehindMirror) -> None:
        self._store = store
        self._mirror = mirror

    @activity.defn(name="record_run")
    async def record_run(self, record: RunRecord) -> None:
        if record.status.finished:
            # The run's last word: write-behind records of it still waiting are
            # stale or the same, and must not land after it.
            self._mirror.finished(record.workflow_id)
        await self._store.record_run(record)
