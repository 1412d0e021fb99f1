"""Workflow-level mirroring into the graph (plan and finish of a run)."""

from __future__ import annotations

import logging

from temporalio import activity

from activities.errors import to_application_error
from orchestrator.errors import GraphStoreUnavailable
from orchestrator.graph.mirror import WriteBehindMirror
from orchestrator.graph.store import GraphStore
from orchestrator.models import RunRecord

log = logging.getLogger(__name__)


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
            if self._store.hand_over_run(record):
                return
        try:
            await self._store.record_run(record)
        except GraphStoreUnavailable as error:
            # Tried again until the graph is back (workflows/mirroring.py): one line
            # a try, not Temporal's traceback of a hundred lines each time.
            log.warning("the graph mirror of run %s waits for the graph (try %d): %s",
                        record.workflow_id, activity.info().attempt, error)
            raise to_application_error(error, told=True) from error
