"""The `GraphStore` protocol every graph backend implements.

Writes are idempotent (activities run at least once): entities are keyed by
kind and name, runs by workflow id, steps by workflow id and step id.
"""

from __future__ import annotations

from typing import Any, Protocol

from orchestrator.models import Agent, Capability, EntityRef, Model, RunRecord, StepRecord


class EntityRecord(Model):
    kind: str
    name: str
    # Who made it: "<workflow id>/<step id>", or "" for entities made outside a run.
    created_by: str
    attrs: dict[str, Any] = {}

    @property
    def ref(self) -> EntityRef:
        return EntityRef(kind=self.kind, name=self.name)


class Relation(Model):
    source: EntityRef
    type: str
    target: EntityRef


class RunGraph(Model):
    """A run as the graph holds it: its steps, their edges and what they touched."""

    workflow_id: str
    status: str | None
    steps: dict[str, dict[str, Any]]
    depends_on: list[tuple[str, str]]
    executed_by: list[tuple[str, str]]
    operates_on: list[tuple[str, str]]
    # (step, its undo), for the steps a rollback compensated.
    compensated_by: list[tuple[str, str]] = []


class GraphStore(Protocol):
    async def setup(self) -> None:
        """Create the schema (idempotently) and open connections."""

    async def close(self) -> None: ...

    async def register_catalogue(
        self, capabilities: list[Capability], agents: list[Agent]
    ) -> None:
        """Mirror the capabilities and the agents that provide them."""

    async def claim_entity(
        self, ref: EntityRef, owner: str, attrs: dict[str, Any]
    ) -> EntityRecord:
        """Create the entity unless it exists; return it with its first creator."""

    async def get_entity(self, ref: EntityRef) -> EntityRecord | None: ...

    async def find_entities(self, kind: str | None = None) -> list[EntityRecord]: ...

    async def delete_entity(self, ref: EntityRef, owner: str) -> bool:
        """Delete the entity and its relationships if `owner` created it."""

    async def relate(self, relations: list[Relation]) -> None: ...

    async def unrelate(self, relations: list[Relation]) -> None: ...

    async def relations(self, ref: EntityRef) -> list[Relation]:
        """Relationships leaving or entering the entity."""

    async def record_run(self, record: RunRecord) -> None:
        """Mirror the workflow, its plan, its steps and their dependencies."""

    async def record_steps(self, records: list[StepRecord]) -> None:
        """Mirror steps' states and the entities they operate on, in one batch."""

    async def run_graph(self, workflow_id: str) -> RunGraph: ...

    async def counts(self) -> dict[str, int]:
        """Nodes by label and relationships by type (a full scan: for checks, not hot paths)."""
