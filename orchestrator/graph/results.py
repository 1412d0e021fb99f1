"""Rows read back from either store, turned into the protocol's models.

Both stores run the same read statements and get rows of the same shape, so
they share this code and cannot drift apart.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from orchestrator.graph import queries as q
from orchestrator.graph.store import EntityRecord, Relation, RunGraph
from orchestrator.models import EntityRef

Rows = list[list[Any]]


# `read(query, **params)`: a store's own way of running a read statement.
Read = Callable[..., Awaitable[Rows]]


def entity_from_row(row: Sequence[Any]) -> EntityRecord:
    return EntityRecord(
        kind=row[0], name=row[1], created_by=row[2] or "", attrs=json.loads(row[3] or "{}")
    )


def relation_from_row(row: Sequence[Any]) -> Relation:
    return Relation(
        source=EntityRef(kind=row[0], name=row[1]), type=row[2],
        target=EntityRef(kind=row[3], name=row[4]),
    )


def counts_from_rows(rows: Rows) -> dict[str, int]:
    return {str(name): int(count) for name, count in rows}


async def read_run_graph(read: Read, workflow_id: str) -> RunGraph:
    """A run's workflow, steps and edges, read with the store's `read`."""
    status = await read(q.RUN_WORKFLOW, id=workflow_id)
    steps = await read(q.RUN_STEPS, id=workflow_id)
    return RunGraph(
        workflow_id=workflow_id,
        status=status[0][0] if status else None,
        steps={
            r[0]: {"capability": r[1], "agent": r[2], "status": r[3], "attempt": r[4],
                   "output": json.loads(r[5]) if r[5] else None}
            for r in steps
        },
        depends_on=[(r[0], r[1]) for r in await read(q.RUN_DEPENDS_ON, id=workflow_id)],
        executed_by=[(r[0], r[1]) for r in await read(q.RUN_EXECUTED_BY, id=workflow_id)],
        operates_on=[(r[0], r[1]) for r in await read(q.RUN_OPERATES_ON, id=workflow_id)],
        compensated_by=[
            (r[0], r[1]) for r in await read(q.RUN_COMPENSATED_BY, id=workflow_id)
        ],
    )
