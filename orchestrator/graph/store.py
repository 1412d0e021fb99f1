"""The `GraphStore` protocol every graph backend implements.

Writes are idempotent (activities run at least once): entities are keyed by
kind and name, runs by workflow id, steps by workflow id and step id.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from pydantic import ConfigDict

from orchestrator.models import (
    Agent,
    AgentStats,
    Capability,
    EntityRef,
    Model,
    RunRecord,
    StepRecord,
)


class EntityRecord(Model):
    kind: str
    name: str
    # Who made it: "<workflow id>/<step id>", or "" for entities made outside a run.
    created_by: str
    attrs: dict[str, Any] = {}
    # Steps of other runs that found it made and rely on it (graph/holds.py).
    users: list[str] = []

    @property
    def ref(self) -> EntityRef:
        return EntityRef(kind=self.kind, name=self.name)


class Released(Model):
    """What an undo's release did to the entity it undoes."""

    deleted: bool
    # The step it passed to, when another still relies on it (or, asked of a step
    # that no longer held it, the step that holds it now).
    kept_for: str | None = None
    # Not there (an earlier try of the same undo removed it, say).
    absent: bool = False


class Relation(Model):
    source: EntityRef
    type: str
    target: EntityRef


class RunGraph(Model):
    """A run as the graph holds it: its steps, their edges and what they touched."""

    workflow_id: str
    status: str | None
    # Why the run did not complete, when it did not.
    error: str | None = None
    steps: dict[str, dict[str, Any]]
    depends_on: list[tuple[str, str]]
    executed_by: list[tuple[str, str]]
    operates_on: list[tuple[str, str]]
    # (step, its undo), for the steps a rollback compensated.
    compensated_by: list[tuple[str, str]] = []
    # The earlier run of the conversation this one follows up on.
    follows: list[str] = []


class RunShape(Model):
    """A run's steps and their edges, no more: what a stored plan is renamed from."""

    capabilities: dict[str, str]  # by step id
    depends_on: list[tuple[str, str]]


class StepOutcome(Model):
    """A step as the graph last saw it: what it did and how it ended."""

    step_id: str
    capability: str | None
    agent: str | None
    status: str | None
    output: dict[str, Any] | None


class EntityContext(Model):
    entity: EntityRecord
    # Every relationship leaving or entering the entity.
    relations: list[Relation]


class StepGraphContext(Model):
    """What the graph knows around a step: the steps it depends on, transitively,
    and the entities it operates on with their neighbours."""

    workflow_id: str
    step_id: str
    dependencies: dict[str, StepOutcome]
    entities: list[EntityContext]


class CompletedRun(Model):
    """A run that completed, as the plan memory reads it."""

    # Kept lists hand out the same objects to every plan: frozen, they need no copy.
    model_config = ConfigDict(frozen=True)

    workflow_id: str
    request: str
    intent: str
    # When it finished, in ms since the epoch (0: not known).
    finished: int = 0


class Impacted(Model):
    entity: EntityRef
    # Hops from the entity whose impact this is.
    depth: int
    # The relationship through which the impact reached it.
    via: Relation


class OperatingStep(Model):
    workflow_id: str
    step_id: str
    capability: str | None
    status: str | None


class Impact(Model):
    """What depends on an entity: the entities a change to it reaches, nearest first,
    and the steps (of any run) that operated on it."""

    entity: EntityRef
    entities: list[Impacted]
    steps: list[OperatingStep]
    runs: list[str]


class AgentRecord(Model):
    id: str
    # None for an agent seen only as a step's executor, never registered.
    kind: str | None
    # Statistics by the name of each capability the agent provides.
    capabilities: dict[str, AgentStats]


class ToolRecord(Model):
    """An MCP tool as the graph holds it: the capability it implements."""

    name: str
    capability: str
    description: str = ""
    read_only: bool = False
    sensitive: bool = False


class McpServerRecord(Model):
    """An MCP server, its agent, and the tools it exposes (by tool name order)."""

    name: str
    agent: str
    tools: list[ToolRecord] = []


IMPACT_DEPTH = 5


class GraphStore(Protocol):
    async def setup(self) -> None:
        """Create the schema (idempotently) and open connections."""

    async def close(self) -> None: ...

    async def reachable(self) -> None:
        """Raise GraphStoreUnavailable if the graph cannot be reached now: asked
        before a request is planned, so that a graph that is down is told at once
        rather than through a run that fails planning after its retries."""

    def prefetch(self) -> None:
        """Start reading, in the background, what every plan reads (the agents'
        statistics, the completed runs): a worker's first plan then need not wait
        for reads that grow with the graph."""

    async def register_catalogue(
        self, capabilities: list[Capability], agents: list[Agent]
    ) -> None:
        """Mirror the capabilities and the agents that provide them."""

    async def claim_entity(
        self, ref: EntityRef, owner: str, attrs: dict[str, Any]
    ) -> EntityRecord:
        """Create the entity unless it exists; return it with its first creator. A
        step (`owner`) finding it made by another holds it too."""

    async def hold_entity(self, ref: EntityRef, owner: str) -> EntityRecord | None:
        """`owner` relies on the entity, if it exists (None otherwise): another's undo
        leaves it in place."""

    async def get_entity(self, ref: EntityRef) -> EntityRecord | None: ...

    async def find_entities(self, kind: str | None = None) -> list[EntityRecord]: ...

    async def release_holds(
        self, owner: str, refs: Sequence[EntityRef] = ()
    ) -> dict[str, Released]:
        """An undo: `owner` (a step) lets go of every entity and relationship it made
        or relied on. What nobody holds any more is removed; what others hold passes
        to them. Says, for each of `refs`, what became of it."""

    async def release_entity(self, ref: EntityRef, owner: str) -> Released:
        """`release_holds` told of one entity."""

    async def update_entity_attrs(
        self, ref: EntityRef, changes: dict[str, Any]
    ) -> EntityRecord | None:
        """Merge `changes` into the entity's attributes (a None value removes the
        key); None if the entity does not exist."""

    async def relate(self, relations: list[Relation], owner: str = "") -> None:
        """Add the relationships, held by `owner` ("" for none)."""

    async def unrelate(self, relations: list[Relation]) -> None: ...

    async def relations(self, ref: EntityRef) -> list[Relation]:
        """Relationships leaving or entering the entity."""

    async def record_run(self, record: RunRecord) -> None:
        """Mirror the workflow, its plan, its steps and their dependencies."""

    def hand_over_run(self, record: RunRecord) -> bool:
        """Take a finished run's final mirror to write behind it, if every reader of
        this store still sees it before anything newer; True if taken (written
        soon, surviving this process ending), False if the caller must
        `record_run` it."""

    async def record_steps(self, records: list[StepRecord]) -> None:
        """Mirror steps' states and the entities they operate on, in one batch."""

    async def run_graph(self, workflow_id: str) -> RunGraph: ...

    async def run_shape(self, workflow_id: str) -> RunShape:
        """The run's steps' capabilities and their DEPENDS_ON edges, in one read."""

    async def counts(self) -> dict[str, int]:
        """Nodes by label and relationships by type (a full scan: for checks, not hot paths)."""

    async def list_entities(
        self, kind: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[EntityRecord]:
        """One page of `find_entities`, in the same order."""

    async def step_context(self, workflow_id: str, step_id: str) -> StepGraphContext:
        """The outcomes of the steps it depends on and the entities it operates on."""

    async def impact(self, ref: EntityRef, depth: int = IMPACT_DEPTH) -> Impact:
        """What a change to the entity reaches, up to `depth` hops, and who touched it."""

    async def resolve_reference(self, text: str, kind: str | None = None) -> list[EntityRecord]:
        """The entities a phrase such as "the payment service" or "what is deployed to
        staging" refers to, by name."""

    async def completed_runs(self, limit: int = 500) -> list[CompletedRun]:
        """Requests and intents of the plans whose runs completed, with those runs,
        newest first: the plan memory."""

    async def unfinished_runs(self, limit: int = 200) -> list[tuple[str, str]]:
        """(workflow id, request) of the runs the graph holds as not yet ended, by id."""

    async def agent_stats(self) -> dict[str, AgentStats]:
        """Observed outcomes by "<agent>/<capability>"."""

    async def stage_overhead_ms(self) -> float | None:
        """What recent completed runs took a stage beyond their agents' time (the
        median of the last ones); None before any."""

    async def list_agents(self) -> list[AgentRecord]:
        """Every agent with the capabilities it provides and their statistics, by id."""

    async def register_mcp_servers(self, servers: list[McpServerRecord]) -> None:
        """Mirror these servers and the tools they expose now (tools they no longer
        expose leave the graph); their capabilities must be registered first."""

    async def forget_mcp_server(self, name: str) -> None:
        """The server is no longer configured: remove it and its tools."""

    async def mcp_servers(self) -> list[McpServerRecord]:
        """Every MCP server with the tools it exposes, by name."""
