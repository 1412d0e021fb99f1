"""Rows read back from either store, turned into the protocol's models.

Both stores run the same read statements and get rows of the same shape, so
they share this code and cannot drift apart.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from orchestrator.graph import queries as q
from orchestrator.graph.store import (
    AgentRecord,
    EntityContext,
    EntityRecord,
    Impact,
    Impacted,
    McpServerRecord,
    OperatingStep,
    Relation,
    RunGraph,
    StepGraphContext,
    StepOutcome,
    ToolRecord,
)
from orchestrator.models import AgentStats, EntityRef

Rows = list[list[Any]]


# `read(query, **params)`: a store's own way of running a read statement.
Read = Callable[..., Awaitable[Rows]]


def entity_from_row(row: Sequence[Any]) -> EntityRecord:
    return EntityRecord(
        kind=row[0], name=row[1], created_by=row[2] or "", attrs=json.loads(row[3] or "{}"),
        users=list(row[4] or []) if len(row) > 4 else [],
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
        error=status[0][1] if status else None,
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
        follows=[r[0] for r in await read(q.FOLLOWED_RUNS, id=workflow_id)],
    )


async def read_step_context(read: Read, workflow_id: str, step_id: str) -> StepGraphContext:
    """The step's transitive dependencies and its entities with their neighbours."""
    key = f"{workflow_id}/{step_id}"
    relations = [relation_from_row(r) for r in await read(q.STEP_ENTITY_RELATIONS, id=key)]
    relations.sort(key=lambda r: (r.type, r.source.key, r.target.key))
    entities = [entity_from_row(r) for r in await read(q.STEP_ENTITIES, id=key)]
    return StepGraphContext(
        workflow_id=workflow_id, step_id=step_id,
        dependencies={
            r[0]: StepOutcome(step_id=r[0], capability=r[1], agent=r[2], status=r[3],
                              output=json.loads(r[4]) if r[4] else None)
            for r in await read(q.STEP_DEPENDENCIES, id=key)
        },
        entities=[
            EntityContext(entity=e, relations=[
                r for r in relations if e.ref in (r.source, r.target)
            ])
            for e in entities
        ],
    )


async def read_impact(read: Read, ref: EntityRef, depth: int) -> Impact:
    """A breadth-first walk along `IMPACT_NEXT`: each entity once, at its nearest depth.
    What is reached where it is placed (an application, through the environment it
    is deployed to) is reached there only: what it contains follows (its services),
    not its other placements (its deployments elsewhere: a change to staging does
    not reach production)."""
    seen, frontier, impacted = {ref.key}, [ref.key], []
    placed: set[str] = set()
    for level in range(1, depth + 1):
        if not frontier:
            break
        rows = await read(q.IMPACT_NEXT, ids=frontier, containment=q.IMPACT_CONTAINMENT)
        frontier = []
        # Sorted, so that of two ways to reach an entity the same one is kept each time.
        for row in sorted(rows):
            via, reached = relation_from_row(row), row[5]
            origin = via.source.key if reached == via.target.key else via.target.key
            if reached in seen or (origin in placed
                                   and via.type not in q.IMPACT_CONTAINMENT):
                continue
            seen.add(reached)
            frontier.append(reached)
            if via.type in q.IMPACT_PLACEMENT:
                placed.add(reached)
            entity = via.target if via.target.key == reached else via.source
            impacted.append(Impacted(entity=entity, depth=level, via=via))
    steps = [
        OperatingStep(workflow_id=r[0], step_id=r[1], capability=r[2], status=r[3])
        for r in await read(q.ENTITY_STEPS, id=ref.key)
    ]
    return Impact(
        entity=ref,
        entities=sorted(impacted, key=lambda i: (i.depth, i.entity.kind, i.entity.name)),
        steps=steps, runs=sorted({s.workflow_id for s in steps}),
    )


def _stats(runs: int | None, successes: int | None, total_ms: int | None,
           recent_ms: float | None, recent_ok: float | None) -> AgentStats:
    return AgentStats(runs=runs or 0, successes=successes or 0, total_ms=total_ms or 0,
                      recent_ms=recent_ms or 0.0, recent_ok=recent_ok)


async def read_agent_stats(read: Read) -> dict[str, AgentStats]:
    return {f"{r[0]}/{r[1]}": _stats(*r[2:7]) for r in await read(q.AGENT_STATS)}


async def read_agents(read: Read) -> list[AgentRecord]:
    agents: dict[str, AgentRecord] = {}
    for agent, kind, capability, *stats in await read(q.AGENTS):
        record = agents.setdefault(agent, AgentRecord(id=agent, kind=kind, capabilities={}))
        if capability is not None:
            record.capabilities[capability] = _stats(*stats)
    return list(agents.values())


def read_mcp_servers(rows: Rows) -> list[McpServerRecord]:
    """Servers from rows of (server, agent, tool, capability, description, read_only,
    sensitive); a server exposing nothing comes with a row of nulls for its tool."""
    servers: dict[str, McpServerRecord] = {}
    for server, agent, tool, capability, description, read_only, sensitive in rows:
        record = servers.setdefault(server, McpServerRecord(name=server, agent=agent or ""))
        if tool is not None:
            record.tools.append(ToolRecord(
                name=tool, capability=capability, description=description or "",
                read_only=bool(read_only), sensitive=bool(sensitive),
            ))
    return list(servers.values())
