"""What both graph stores share: every protocol method, written once over three
primitives a backend provides (a read, a write returning rows, and a batch of
statements in one transaction), so the stores cannot drift apart."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from typing import Any

from orchestrator.graph import queries as q
from orchestrator.graph.batching import GroupCommit
from orchestrator.graph.memory import WriteMemory
from orchestrator.graph.references import resolve
from orchestrator.graph.results import (
    Rows,
    counts_from_rows,
    entity_from_row,
    read_agent_stats,
    read_agents,
    read_impact,
    read_run_graph,
    read_step_context,
    relation_from_row,
)
from orchestrator.graph.rows import Write, relation_rows
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


class CypherStore(ABC):
    # Nodes by label and relationships by type: the one read the dialects spell apart.
    _count_queries: tuple[str, str]

    def __init__(self) -> None:
        # Runs and step batches share one writer: whatever queued meanwhile goes
        # out in one transaction.
        self._writes: GroupCommit[RunRecord | list[StepRecord]] = GroupCommit(self._write)
        # What this process wrote: a run's final mirror need not write it again.
        self._memory = WriteMemory()

    @abstractmethod
    async def _read(self, query: str, **params: Any) -> Rows: ...

    @abstractmethod
    async def _write_rows(self, query: str, **params: Any) -> Rows: ...

    async def _batch(self, writes: list[Write]) -> None:
        """Run several statements in one transaction: stored whole or not at all."""
        # An empty UNWIND has nothing to write (and, embedded, no type to bind to).
        writes = [(query, params) for query, params in writes if params.get("rows") != []]
        if writes:
            await self._transaction(writes)

    @abstractmethod
    async def _transaction(self, writes: list[Write]) -> None:
        """Run these statements in one transaction."""

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
        rows = await self._write_rows(
            q.CLAIM_ENTITY, id=ref.key, kind=ref.kind, name=ref.name, owner=owner,
            attrs=json.dumps(attrs, sort_keys=True),
        )
        return entity_from_row(rows[0])

    async def get_entity(self, ref: EntityRef) -> EntityRecord | None:
        rows = await self._read(q.GET_ENTITY, id=ref.key)
        return entity_from_row(rows[0]) if rows else None

    async def find_entities(self, kind: str | None = None) -> list[EntityRecord]:
        rows = await (
            self._read(q.FIND_ENTITIES) if kind is None
            else self._read(q.FIND_ENTITIES_OF_KIND, kind=kind)
        )
        return [entity_from_row(row) for row in rows]

    async def delete_entity(self, ref: EntityRef, owner: str) -> bool:
        rows = await self._write_rows(q.DELETE_ENTITY, id=ref.key, owner=owner)
        return bool(rows and rows[0][0])

    async def relate(self, relations: list[Relation]) -> None:
        await self._batch([(q.MERGE_RELATIONS, {"rows": relation_rows(relations)})])

    async def unrelate(self, relations: list[Relation]) -> None:
        await self._batch([(q.DELETE_RELATIONS, {"rows": relation_rows(relations)})])

    async def relations(self, ref: EntityRef) -> list[Relation]:
        return [relation_from_row(r) for r in await self._read(q.ENTITY_RELATIONS, id=ref.key)]

    async def record_run(self, record: RunRecord) -> None:
        await self._writes.write(record)

    async def record_steps(self, records: list[StepRecord]) -> None:
        await self._writes.write(records)

    async def _write(self, items: list[RunRecord | list[StepRecord]]) -> None:
        writes = self._memory.writes(items)
        await self._batch(writes)
        self._memory.written(items, writes)

    async def run_graph(self, workflow_id: str) -> RunGraph:
        return await read_run_graph(self._read, workflow_id)

    async def counts(self) -> dict[str, int]:
        nodes, relationships = self._count_queries
        return counts_from_rows(await self._read(nodes) + await self._read(relationships))

    async def list_entities(
        self, kind: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[EntityRecord]:
        rows = await (
            self._read(q.LIST_ENTITIES, limit=limit, offset=offset) if kind is None
            else self._read(q.LIST_ENTITIES_OF_KIND, kind=kind, limit=limit, offset=offset)
        )
        return [entity_from_row(row) for row in rows]

    async def step_context(self, workflow_id: str, step_id: str) -> StepGraphContext:
        return await read_step_context(self._read, workflow_id, step_id)

    async def impact(self, ref: EntityRef, depth: int = IMPACT_DEPTH) -> Impact:
        return await read_impact(self._read, ref, depth)

    async def resolve_reference(self, text: str, kind: str | None = None) -> list[EntityRecord]:
        return await resolve(self._read, text, kind)

    async def completed_plans(self, limit: int = 500) -> list[tuple[str, str]]:
        return [(r[0], r[1]) for r in await self._read(q.COMPLETED_PLANS, limit=limit)]

    async def agent_stats(self) -> dict[str, AgentStats]:
        return await read_agent_stats(self._read)

    async def list_agents(self) -> list[AgentRecord]:
        return await read_agents(self._read)

