"""Workflow-level mirroring into the graph (plan and finish of a run)."""

from __future__ import annotations

from temporalio import activity

from orchestrator.graph.store import GraphStore
from orchestrator.models import RunRecord


class GraphActivities:
    def __init__(self, store: GraphStore) -> None:
        self._store = store

    @activity.defn(name="record_run")
    async def record_run(self, record: RunRecord) -> None:
        await self._store.record_run(record)
