"""`/v1/graph`: read-only views of the graph: entities with their relationships and
impact, what a phrase refers to, and a run as nodes and edges. Callers pass names,
never Cypher: each call is one of the store's named reads."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query

from api.deps import McpHubDep, StoreDep, WorkflowId
from api.errors import described
from api.graph_view import run_graph_view
from api.schemas import EntityDetail, EntityPage, Resolution, RunGraphView
from orchestrator.agents.catalogue import PLATFORM_CAPABILITIES
from orchestrator.graph.store import IMPACT_DEPTH, GraphStore, Impact, StepGraphContext
from orchestrator.mcp import McpHub
from orchestrator.models import NAME_PATTERN, EntityRef

# Far beyond any graph, and within the 64-bit integer a database takes.
MAX_OFFSET = 10**9
router = APIRouter(prefix="/v1/graph", tags=["graph"])

Name = Annotated[str, Path(pattern=NAME_PATTERN)]
# Empty means no filter: `?kind=` is what a form or a URL template sends for none.
KindFilter = Annotated[str | None, Query(pattern=f"^$|{NAME_PATTERN}")]


@router.get("/entities", response_model=EntityPage)
async def list_entities(
    store: StoreDep, hub: McpHubDep, kind: KindFilter = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> EntityPage:
    """Entities in kind and name order, a page at a time, of one kind if given."""
    # One more than asked: whether another page follows, without counting them all.
    entities = await store.list_entities(kind or None, limit=limit + 1, offset=offset)
    if not entities and kind:
        await _check_kind(kind, hub, store)
    more = len(entities) > limit
    return EntityPage(entities=entities[:limit], limit=limit, offset=offset,
                      next_offset=offset + limit if more else None)


@router.get("/entities/{kind}/{name}", response_model=EntityDetail,
            responses=described(404))
async def get_entity(kind: Name, name: Name, store: StoreDep, hub: McpHubDep) -> EntityDetail:
    """The entity and every relationship leaving or entering it."""
    entity = await store.get_entity(EntityRef(kind=kind, name=name))
    if entity is None:
        await _check_kind(kind, hub, store)
        raise HTTPException(404, f"no {kind} {name!r}")
    return EntityDetail(entity=entity, relations=await store.relations(entity.ref))


@router.get("/entities/{kind}/{name}/impact", response_model=Impact,
            responses=described(404))
async def get_impact(
    kind: Name, name: Name, store: StoreDep, hub: McpHubDep,
    depth: Annotated[int, Query(ge=1, le=IMPACT_DEPTH)] = IMPACT_DEPTH,
) -> Impact:
    """What a change to the entity reaches, nearest first, and the steps that touched it."""
    return await store.impact(await _known(store, hub, kind, name), depth)


@router.get("/resolve", response_model=Resolution)
async def resolve(
    store: StoreDep, hub: McpHubDep, q: Annotated[str, Query(min_length=1, max_length=500)],
    kind: KindFilter = None,
) -> Resolution:
    """The entities a phrase such as "the payment service" refers to, sorted by name."""
    kind = kind or None
    candidates = await store.resolve_reference(q, kind)
    if not candidates and kind is not None:
        await _check_kind(kind, hub, store)
    return Resolution(query=q, kind=kind, candidates=candidates)


@router.get("/workflows/{workflow_id}", response_model=RunGraphView, responses=described(404))
async def get_run_graph(workflow_id: WorkflowId, store: StoreDep) -> RunGraphView:
    """The run's workflow, steps, agents and entities, with the edges between them."""
    run = await store.run_graph(workflow_id)
    if run.status is None:
        raise HTTPException(404, f"no workflow {workflow_id!r} in the graph")
    return run_graph_view(run)


@router.get("/workflows/{workflow_id}/steps/{step_id}/context",
            response_model=StepGraphContext, responses=described(404))
async def get_step_context(
    workflow_id: WorkflowId, step_id: Name, store: StoreDep
) -> StepGraphContext:
    """What the step's dependencies produced and the entities it operates on."""
    run = await store.run_graph(workflow_id)
    if run.status is None:
        raise HTTPException(404, f"no workflow {workflow_id!r} in the graph")
    if step_id not in run.steps:
        raise HTTPException(404, f"no step {step_id!r} in workflow {workflow_id!r}")
    return await store.step_context(workflow_id, step_id)


async def _known(store: GraphStore, hub: McpHub, kind: str, name: str) -> EntityRef:
    ref = EntityRef(kind=kind, name=name)
    if await store.get_entity(ref) is None:
        await _check_kind(kind, hub, store)
        raise HTTPException(404, f"no {kind} {name!r}")
    return ref


async def _check_kind(kind: str, hub: McpHub, store: GraphStore) -> None:
    """Refuse a kind no capability makes or needs and the graph holds none of,
    naming those there are: an empty answer to a misspelt kind ("aplication")
    reads as "there are none". Asked only when nothing was found."""
    kinds = {k for c in (*PLATFORM_CAPABILITIES, *hub.capabilities)
             for k in (*c.produces, *c.consumes)}
    # Entities of a kind whose tools were since removed are still the graph's.
    if kind not in kinds and not await store.list_entities(kind, limit=1):
        raise HTTPException(422, f"no kind {kind!r}: the kinds are {', '.join(sorted(kinds))}")
