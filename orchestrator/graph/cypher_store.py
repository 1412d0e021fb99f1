"""What both graph stores share: every protocol method, written once over three
primitives a backend provides (a read, a write returning rows, and a batch of
statements in one transaction), so the stores cannot drift apart."""

from __future__ import annotations

import json
import statistics
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

from orchestrator.graph import queries as q
from orchestrator.graph.batching import GroupCommit
from orchestrator.graph.handover import Handover
from orchestrator.graph.holds import entity_writes, relation_writes
from orchestrator.graph.memory import WriteMemory
from orchestrator.graph.overtaking import may_overtake
from orchestrator.graph.recent_runs import RecentRuns
from orchestrator.graph.references import resolve
from orchestrator.graph.results import (
    Rows,
    counts_from_rows,
    entity_from_row,
    read_agent_stats,
    read_agents,
    read_impact,
    read_mcp_servers,
    read_run_graph,
    read_step_context,
    relation_from_row,
)
from orchestrator.graph.rows import Write, relation_rows
from orchestrator.graph.stats_cache import StatsCache
from orchestrator.graph.store import (
    IMPACT_DEPTH,
    AgentRecord,
    CompletedRun,
    EntityRecord,
    Impact,
    McpServerRecord,
    Relation,
    Released,
    RunGraph,
    RunShape,
    StepGraphContext,
)
from orchestrator.models import (
    Agent,
    AgentStats,
    Capability,
    EntityRef,
    RunRecord,
    RunStatus,
    StepRecord,
)

# How many recent runs a dry run's orchestration time per stage is taken from.
RECENT_OVERHEADS = 20


class CypherStore(ABC):
    # Nodes by label and relationships by type: the one read the dialects spell apart.
    _count_queries: tuple[str, str]

    def __init__(self) -> None:
        # Runs and step batches share one writer: whatever queued meanwhile goes
        # out in one transaction.
        self._writes: GroupCommit[RunRecord | list[StepRecord]] = GroupCommit(self._write)
        # Runs' final mirrors that commute with everything unwritten go out beside
        # that writer rather than behind it (overtaking.py).
        self._finals: GroupCommit[RunRecord | list[StepRecord]] = GroupCommit(self._write)
        self._writing: list[list[RunRecord | list[StepRecord]]] = []
        # What this process wrote: a run's final mirror need not write it again.
        self._memory = WriteMemory()
        # Read by every plan, changed only by counted outcomes.
        self._stats = StatsCache(lambda: read_agent_stats(self._read))
        # Read by every plan (the plan memory), changed by runs' final mirrors.
        self._recent = RecentRuns(self._read_completed_runs)
        # Set by a store whose every reader is in this process (handover.py).
        self._handover: Handover | None = None

    async def _read(self, query: str, **params: Any) -> Rows:
        """Run one reading statement, once the final mirrors taken before it are
        written."""
        await self._settled()
        return await self._read_rows(query, **params)

    async def _read_entities(self, query: str, **params: Any) -> Rows:
        """Run one statement reading what no run's final mirror writes (entities and
        their relationships, which agents write as they act; MCP servers): it need not
        wait, and the steps and plans reading it must not wait for other runs'
        mirrors."""
        return await self._read_rows(query, **params)

    async def _settled(self) -> None:
        if self._handover is not None:
            await self._handover.settled()

    @abstractmethod
    async def _read_rows(self, query: str, **params: Any) -> Rows: ...

    @abstractmethod
    async def _write_rows(self, query: str, **params: Any) -> Rows: ...

    async def _batch(self, writes: list[Write], mirroring: bool = False) -> None:
        """Run several statements in one transaction: stored whole or not at all."""
        # An empty UNWIND has nothing to write (and, embedded, no type to bind to).
        writes = [(query, params) for query, params in writes if params.get("rows") != []]
        if writes:
            try:
                await self._transaction(writes)
            finally:
                self._wrote([query for query, _ in writes], mirroring)

    @abstractmethod
    async def _transaction(self, writes: list[Write]) -> None:
        """Run these statements in one transaction."""

    def prefetch(self) -> None:
        self._stats.prefetch()
        self._recent.prefetch()

    async def _close_caches(self) -> None:
        """Stop the caches' reads under way: the store is closing."""
        await self._stats.close()
        await self._recent.close()

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
        rows = await self._read_entities(q.GET_ENTITY, id=ref.key)
        return entity_from_row(rows[0]) if rows else None

    async def find_entities(self, kind: str | None = None) -> list[EntityRecord]:
        rows = await (
            self._read_entities(q.FIND_ENTITIES) if kind is None
            else self._read_entities(q.FIND_ENTITIES_OF_KIND, kind=kind)
        )
        return [entity_from_row(row) for row in rows]

    async def hold_entity(self, ref: EntityRef, owner: str) -> EntityRecord | None:
        rows = await self._write_rows(q.HOLD_ENTITY, id=ref.key, owner=owner)
        return entity_from_row(rows[0]) if rows else None

    async def release_holds(
        self, owner: str, refs: Sequence[EntityRef] = ()
    ) -> dict[str, Released]:
        if not owner:  # "" is the maker of what no run made: never released
            return {ref.key: Released(deleted=False) for ref in refs}
        keys = list(dict.fromkeys(ref.key for ref in refs))
        reads: list[Write] = [
            (q.HELD_RELATIONS, {"owner": owner}), (q.HELD_ENTITIES, {"owner": owner}),
            *((q.GET_ENTITY, {"id": key}) for key in keys),
        ]
        outcome: dict[str, Released] = {}

        def decide(results: list[Rows]) -> list[Write]:
            relations, held, *asked = results
            # Relationships first: a removed entity takes its own with it.
            writes = relation_writes(relations, owner)
            for entity_id, created_by, users in held:
                more, released = entity_writes(entity_id, created_by, users, owner)
                writes += more
                outcome[entity_id] = released
            for key, rows in zip(keys, asked, strict=True):
                # Asked about but not held by `owner`: left as it is, or not there.
                # `owner` may have made it and passed it on (an undo tried again):
                # whoever holds it now is who it was left to.
                holder = rows[0][2] if rows else None
                outcome.setdefault(key, Released(deleted=False, absent=not rows,
                                                 kept_for=holder or None))
            return writes

        await self._read_then_write(reads, decide)
        return {key: outcome[key] for key in keys}

    async def release_entity(self, ref: EntityRef, owner: str) -> Released:
        return (await self.release_holds(owner, [ref]))[ref.key]

    @abstractmethod
    async def _read_then_write(
        self, reads: list[Write], decide: Callable[[list[Rows]], list[Write]]
    ) -> None:
        """Run `reads`, then the writes `decide` makes of their rows, in one
        transaction (the reads take write locks where the backend has them)."""

    async def update_entity_attrs(
        self, ref: EntityRef, changes: dict[str, Any]
    ) -> EntityRecord | None:
        # Read, merge, write: two writers changing one entity's attributes at once
        # could lose one's change. The agents that write them (a deployment's
        # health) act on one entity from one step at a time.
        current = await self.get_entity(ref)
        if current is None:
            return None
        attrs = {k: v for k, v in {**current.attrs, **changes}.items() if v is not None}
        rows = await self._write_rows(
            q.SET_ENTITY_ATTRS, id=ref.key, attrs=json.dumps(attrs, sort_keys=True)
        )
        return entity_from_row(rows[0]) if rows else None

    async def relate(self, relations: list[Relation], owner: str = "") -> None:
        rows = [{**row, "owner": owner} for row in relation_rows(relations)]
        await self._batch([(q.MERGE_RELATIONS, {"rows": rows})])

    async def unrelate(self, relations: list[Relation]) -> None:
        await self._batch([(q.DELETE_RELATIONS, {"rows": relation_rows(relations)})])

    async def relations(self, ref: EntityRef) -> list[Relation]:
        rows = await self._read_entities(q.ENTITY_RELATIONS, id=ref.key)
        return [relation_from_row(r) for r in rows]

    async def record_run(self, record: RunRecord) -> None:
        unwritten = [*self._writes.queued(), *(item for batch in self._writing for item in batch)]
        writer = self._finals if may_overtake(record, unwritten) else self._writes
        await writer.write(record)

    def hand_over_run(self, record: RunRecord) -> bool:
        if self._handover is None or not record.status.finished:
            return False
        self._handover.take(record)
        return True

    async def record_steps(self, records: list[StepRecord]) -> None:
        await self._writes.write(records)

    async def _write(self, items: list[RunRecord | list[StepRecord]]) -> None:
        writes = self._memory.writes(items)
        self._writing.append(items)
        try:
            await self._batch(writes, mirroring=True)
        except BaseException:
            # Perhaps committed, perhaps not.
            self._recent.forget()
            self._stats.invalidate()
            raise
        finally:
            self._writing.remove(items)
        self._memory.written(items, writes)
        self._recent.mirrored(item for item in items if isinstance(item, RunRecord))
        self._stats.counted(
            row for query, params in writes if query == q.COUNT_OUTCOMES for row in params["rows"]
        )

    async def run_graph(self, workflow_id: str) -> RunGraph:
        return await read_run_graph(self._read, workflow_id)

    async def run_shape(self, workflow_id: str) -> RunShape:
        rows = await self._read(q.RUN_SHAPE, id=workflow_id)
        return RunShape(capabilities={r[0]: r[1] for r in rows},
                        depends_on=[(r[0], r[2]) for r in rows if r[2] is not None])

    async def counts(self) -> dict[str, int]:
        nodes, relationships = self._count_queries
        return counts_from_rows(await self._read(nodes) + await self._read(relationships))

    async def list_entities(
        self, kind: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[EntityRecord]:
        rows = await (
            self._read_entities(q.LIST_ENTITIES, limit=limit, offset=offset) if kind is None
            else self._read_entities(q.LIST_ENTITIES_OF_KIND, kind=kind, limit=limit,
                                     offset=offset)
        )
        return [entity_from_row(row) for row in rows]

    async def step_context(self, workflow_id: str, step_id: str) -> StepGraphContext:
        return await read_step_context(self._read, workflow_id, step_id)

    async def impact(self, ref: EntityRef, depth: int = IMPACT_DEPTH) -> Impact:
        return await read_impact(self._read, ref, depth)

    async def resolve_reference(self, text: str, kind: str | None = None) -> list[EntityRecord]:
        return await resolve(self._read_entities, text, kind)

    async def completed_runs(self, limit: int = 500) -> list[CompletedRun]:
        await self._settled()
        return await self._recent.get(limit)

    async def unfinished_runs(self, limit: int = 200) -> list[tuple[str, str]]:
        going = [status.value for status in RunStatus if not status.finished]
        rows = await self._read(q.UNFINISHED_RUNS, statuses=going, limit=limit)
        return [(str(r[0]), str(r[1] or "")) for r in rows]

    async def _read_completed_runs(self, limit: int) -> list[CompletedRun]:
        rows = await self._read(q.COMPLETED_PLANS, limit=limit)
        return [CompletedRun(request=r[0], intent=r[1], workflow_id=r[2], finished=r[3])
                for r in rows]

    async def agent_stats(self) -> dict[str, AgentStats]:
        await self._settled()
        return await self._stats.get()

    async def stage_overhead_ms(self) -> float | None:
        rows = await self._read(q.STAGE_OVERHEADS, limit=RECENT_OVERHEADS)
        return statistics.median(r[0] for r in rows) if rows else None

    def _wrote(self, queries: list[str], mirroring: bool = False) -> None:
        """Called once statements were run (committed or not): what is cached is
        dropped if they may have changed it (set PROVIDES, touched workflows or
        plans, deleted nodes); mirroring keeps the completed runs and the agents'
        statistics up to date itself."""
        if mirroring:
            return
        if any("PROVIDES" in query or "DELETE" in query for query in queries):
            self._stats.invalidate()
        if any(word in query for query in queries for word in ("Workflow", "Plan", "DELETE")):
            self._recent.forget()

    async def list_agents(self) -> list[AgentRecord]:
        return await read_agents(self._read)

    async def register_mcp_servers(self, servers: list[McpServerRecord]) -> None:
        tools = [
            {"id": f"{s.name}/{t.name}", "server": s.name, "name": t.name,
             "capability": t.capability, "description": t.description,
             "read_only": t.read_only, "sensitive": t.sensitive}
            for s in servers for t in s.tools
        ]
        keep = [{"id": s.name, "keep": [f"{s.name}/{t.name}" for t in s.tools]}
                for s in servers]
        await self._batch([
            (q.MERGE_MCP_SERVERS, {"rows": [{"id": s.name, "agent": s.agent} for s in servers]}),
            (q.DELETE_STALE_TOOLS, {"rows": keep}),
            (q.MERGE_TOOLS, {"rows": tools}),
            (q.DELETE_STALE_IMPLEMENTS, {"rows": tools}),
        ])

    async def forget_mcp_server(self, name: str) -> None:
        await self._write_rows(q.DELETE_MCP_SERVER, id=name)

    async def mcp_servers(self) -> list[McpServerRecord]:
        return read_mcp_servers(await self._read_entities(q.MCP_SERVER_TOOLS))

