"""The embedded graph store: an on-disk LadybugDB database inside this process.

LadybugDB allows one writing process, so the API and the worker share one store
in one process. Its calls block, so they run on a single dedicated thread: the
event loop never stalls, and writes are serialised without locks.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar, cast

import ladybug

from orchestrator.graph import queries as q
from orchestrator.graph.batching import GroupCommit
from orchestrator.graph.memory import WriteMemory
from orchestrator.graph.references import resolve
from orchestrator.graph.results import (
    counts_from_rows,
    entity_from_row,
    read_agent_stats,
    read_agents,
    read_impact,
    read_run_graph,
    read_step_context,
    relation_from_row,
)
from orchestrator.graph.rows import relation_rows
from orchestrator.graph.store import (
    IMPACT_DEPTH,
    AgentRecord,
    EntityRecord,
    Impact,
    Relation,
    RunGraph,
    StepGraphContext,
)
from orchestrator.models import (
    Agent,
    AgentStats,
    Capability,
    EntityRef,
    RunRecord,
    StepRecord,
)

T = TypeVar("T")
# Uncheckpointed changes live in the buffer pool: with the default threshold a
# 256 MB pool filled after ~250 mirrored runs (the WAL was only ~5 MB) and each
# write got slower as it grew. Checkpointing every MB keeps both flat.
CHECKPOINT_BYTES = 1 << 20
Rows = list[list[Any]]


class EmbeddedGraphStore:
    def __init__(self, path: Path, buffer_pool_mb: int = 256) -> None:
        self._path = path
        self._buffer_pool = buffer_pool_mb * 1024 * 1024
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="graph")
        self._db: ladybug.Database | None = None
        self._conn: ladybug.Connection | None = None
        # Runs and step batches share one writer: whatever queued meanwhile goes
        # out in one transaction.
        self._writes: GroupCommit[RunRecord | list[StepRecord]] = GroupCommit(self._write)
        # What this process wrote: a run's final mirror need not write it again.
        self._memory = WriteMemory()

    async def setup(self) -> None:
        await self._call(self._open)

    def _open(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = ladybug.Database(
                str(self._path), buffer_pool_size=self._buffer_pool,
                checkpoint_threshold=CHECKPOINT_BYTES,
            )
        except RuntimeError as err:
            if "lock" not in str(err).lower():
                raise
            raise RuntimeError(
                f"the embedded graph {self._path} is open in another process; it allows one "
                "process at a time: stop that one (API and worker share one process in "
                "embedded mode) or set another ORCHESTRATOR_DATA_DIR"
            ) from err
        self._conn = ladybug.Connection(self._db)
        for statement in q.EMBEDDED_SCHEMA:
            self._conn.execute(statement)

    async def close(self) -> None:
        def _close() -> None:
            if self._conn is not None:
                self._conn.close()
            if self._db is not None:
                self._db.close()
            self._conn = self._db = None

        await self._call(_close)
        self._executor.shutdown(wait=True)

    async def _call(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    def _exec(self, query: str, **params: Any) -> Rows:
        if self._conn is None:
            raise RuntimeError("graph store is not open: call setup() first")
        result = self._conn.execute(query, params)
        assert not isinstance(result, list)
        return cast(Rows, result.get_all())

    async def _run(self, query: str, **params: Any) -> Rows:
        return await self._call(lambda: self._exec(query, **params))

    async def _batch(self, steps: list[tuple[str, dict[str, Any]]]) -> None:
        """Run several statements in one transaction: mirrored whole or not at all."""
        # An empty UNWIND has no type to bind to, and nothing to write.
        steps = [(query, params) for query, params in steps if params.get("rows") != []]
        if not steps:
            return
        if len(steps) == 1:
            await self._run(steps[0][0], **steps[0][1])
            return

        def _tx() -> None:
            self._exec("BEGIN TRANSACTION")
            try:
                for query, params in steps:
                    self._exec(query, **params)
            except Exception:
                # A failed statement may already have ended the transaction; the
                # original error is the one worth reporting.
                with contextlib.suppress(RuntimeError):
                    self._exec("ROLLBACK")
                raise
            self._exec("COMMIT")

        await self._call(_tx)

    async def register_catalogue(
        self, capabilities: list[Capability], agents: list[Agent]
    ) -> None:
        caps = [
            {"id": c.name, "description": c.description, "consumes": c.consumes,
             "produces": c.produces}
            for c in capabilities
        ]
        provides = [{"agent": a.id, "capability": c} for a in agents for c in a.capabilities]
        await self._batch([
            (q.MERGE_CAPABILITIES, {"rows": caps}),
            (q.MERGE_AGENTS, {"rows": [{"id": a.id, "kind": a.kind.value} for a in agents]}),
            (q.MERGE_PROVIDES, {"rows": provides}),
        ])

    async def claim_entity(
        self, ref: EntityRef, owner: str, attrs: dict[str, Any]
    ) -> EntityRecord:
        rows = await self._run(
            q.CLAIM_ENTITY, id=ref.key, kind=ref.kind, name=ref.name, owner=owner,
            attrs=json.dumps(attrs, sort_keys=True),
        )
        return entity_from_row(rows[0])

    async def get_entity(self, ref: EntityRef) -> EntityRecord | None:
        rows = await self._run(q.GET_ENTITY, id=ref.key)
        return entity_from_row(rows[0]) if rows else None

    async def find_entities(self, kind: str | None = None) -> list[EntityRecord]:
        rows = await (
            self._run(q.FIND_ENTITIES) if kind is None
            else self._run(q.FIND_ENTITIES_OF_KIND, kind=kind)
        )
        return [entity_from_row(row) for row in rows]

    async def delete_entity(self, ref: EntityRef, owner: str) -> bool:
        rows = await self._run(q.DELETE_ENTITY, id=ref.key, owner=owner)
        return bool(rows and rows[0][0])

    async def relate(self, relations: list[Relation]) -> None:
        await self._batch([(q.MERGE_RELATIONS, {"rows": relation_rows(relations)})])

    async def unrelate(self, relations: list[Relation]) -> None:
        await self._batch([(q.DELETE_RELATIONS, {"rows": relation_rows(relations)})])

    async def relations(self, ref: EntityRef) -> list[Relation]:
        return [relation_from_row(r) for r in await self._run(q.ENTITY_RELATIONS, id=ref.key)]

    async def record_run(self, record: RunRecord) -> None:
        await self._writes.write(record)

    async def record_steps(self, records: list[StepRecord]) -> None:
        await self._writes.write(records)

    async def _write(self, items: list[RunRecord | list[StepRecord]]) -> None:
        writes = self._memory.writes(items)
        await self._batch(writes)
        self._memory.written(items, writes)

    async def run_graph(self, workflow_id: str) -> RunGraph:
        return await read_run_graph(self._run, workflow_id)

    async def counts(self) -> dict[str, int]:
        return counts_from_rows(
            await self._run(q.EMBEDDED_COUNT_NODES)
            + await self._run(q.EMBEDDED_COUNT_RELATIONSHIPS)
        )

    async def list_entities(
        self, kind: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[EntityRecord]:
        rows = await (
            self._run(q.LIST_ENTITIES, limit=limit, offset=offset) if kind is None
            else self._run(q.LIST_ENTITIES_OF_KIND, kind=kind, limit=limit, offset=offset)
        )
        return [entity_from_row(row) for row in rows]

    async def step_context(self, workflow_id: str, step_id: str) -> StepGraphContext:
        return await read_step_context(self._run, workflow_id, step_id)

    async def impact(self, ref: EntityRef, depth: int = IMPACT_DEPTH) -> Impact:
        return await read_impact(self._run, ref, depth)

    async def resolve_reference(self, text: str, kind: str | None = None) -> list[EntityRecord]:
        return await resolve(self._run, text, kind)

    async def agent_stats(self) -> dict[str, AgentStats]:
        return await read_agent_stats(self._run)

    async def list_agents(self) -> list[AgentRecord]:
        return await read_agents(self._run)
