"""What a store's process has already written, so mirroring does not write it
twice.

A run's final mirror carries its plan and every step's state, so the graph
converges whatever earlier write-behind records were lost. In the usual case
they were not lost: this process wrote the plan, and its step mirror wrote the
very same states moments ago. Remembering what was written (bounded; forgetting
only costs a redundant idempotent write) turns the final mirror into one small
statement instead of a transaction of several.

The trade: with several worker processes on one Neo4j, a stale record written
by another process after this one's is not overwritten by a final mirror that
this process believes redundant; the run's own later records still are.
"""

from __future__ import annotations

import json
from typing import Any

from orchestrator.graph import queries as q
from orchestrator.graph.batching import RecentIds
from orchestrator.graph.rows import Write, mirror_writes, plan_key
from orchestrator.models import RunRecord, StepRecord

# Statements whose rows are whole states keyed by "id" (or "step" + "entity"):
# a row equal to one already written changes nothing.
_STATE_QUERIES = {q.SET_STEP_STATES, q.MERGE_UNDO_STEPS, q.MERGE_OPERATES_ON}
Batch = list[RunRecord | list[StepRecord]]


class WriteMemory:
    def __init__(self, limit: int = 100_000) -> None:
        self._planned = RecentIds(limit)
        self._rows = RecentIds(limit)

    def writes(self, items: Batch) -> list[Write]:
        """The statements for a batch of runs and step records, without what is
        known to be in the graph already."""
        steps = [s for item in items if isinstance(item, list) for s in item]
        runs = [item for item in items if isinstance(item, RunRecord)]
        writes = mirror_writes(runs, steps, self._planned)
        return [
            (query, {"rows": [r for r in params["rows"] if _key(query, r) not in self._rows]})
            if query in _STATE_QUERIES else (query, params)
            for query, params in writes
        ]

    def written(self, items: Batch, writes: list[Write]) -> None:
        """Remember a batch once it is committed."""
        self._planned.update(
            plan_key(item) for item in items
            if isinstance(item, RunRecord) and item.plan is not None
        )
        self._rows.update(
            _key(query, row) for query, params in writes if query in _STATE_QUERIES
            for row in params["rows"]
        )


def _key(query: str, row: dict[str, Any]) -> str:
    return f"{query}\0{json.dumps(row, sort_keys=True, default=str)}"
