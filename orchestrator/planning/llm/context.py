"""What the model is shown besides the request, kept small: the capabilities relevant
to it and the existing entities it names. Nothing else for now; past plans come in
through `PlanMemory` once plans are kept (see `PlanningContext.recalled`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

from orchestrator.agents.registry import AgentRegistry
from orchestrator.graph.store import EntityRecord, GraphStore
from orchestrator.models import Capability, EntityRef, Plan
from orchestrator.planning.llm.retrieval import relevant_capabilities

_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]*")
MAX_ENTITIES = 20


class PlanMemory(Protocol):
    """Successful plans kept for reuse; recall those of requests like this one."""

    async def recall(self, request: str) -> list[Plan]: ...


@dataclass
class PlanningContext:
    capabilities: list[Capability]
    entities: list[EntityRecord]
    # Plans of similar past requests, shown to the model as examples.
    recalled: list[Plan] = field(default_factory=list)
    # Entities of the conversation a follow-up continues: what it leaves out.
    conversation: list[EntityRef] = field(default_factory=list)


class ContextBuilder:
    def __init__(
        self, registry: AgentRegistry, store: GraphStore, max_capabilities: int,
        memory: PlanMemory | None = None,
    ) -> None:
        self._registry = registry
        self._store = store
        self._max_capabilities = max_capabilities
        self._memory = memory

    async def gather(self, request: str) -> PlanningContext:
        capabilities = relevant_capabilities(
            request, self._registry.capabilities, self._max_capabilities
        )
        recalled = await self._memory.recall(request) if self._memory else []
        return PlanningContext(capabilities, await self.mentioned_entities(request), recalled)

    async def mentioned_entities(self, request: str) -> list[EntityRecord]:
        """Existing entities whose name appears in the request as a whole word."""
        words: set[str] = set()
        for token in _NAME_RE.findall(request.lower()):
            words |= {token, *re.split(r"[-_]", token)}
        # A scan of every entity: fine for the graphs seen so far; a name index
        # lookup replaces it when graphs grow.
        found = [e for e in await self._store.find_entities() if e.name in words]
        found.sort(key=lambda e: (e.kind, e.name))
        return found[:MAX_ENTITIES]
