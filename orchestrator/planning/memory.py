"""Plan memory: requests like this one that were planned and ran to completion.

"Close" is measured on what a request asks for, not on its names: each request
is read by the offline parser into actions, and two requests are compared by the
Jaccard index of their (verb, kind) sets; words the parser leaves over break
ties. "Create application shop with payment service" and "create application
ecommerce with billing service" are identical in shape (1.0), and a request
asking for one more thing than a stored one scores lower.
"""

from __future__ import annotations

from orchestrator.errors import OrchestratorError
from orchestrator.graph.store import GraphStore
from orchestrator.models import Plan
from orchestrator.planning.parser import parse_request

# Below this a stored plan is not close enough to show.
CLOSE = 0.6


def shape(request: str) -> frozenset[tuple[str, str]]:
    try:
        parsed = parse_request(request)
    except OrchestratorError:
        return frozenset()
    return frozenset((a.verb, a.kind) for a in parsed.actions)


def closeness(a: frozenset[tuple[str, str]], b: frozenset[tuple[str, str]]) -> float:
    return len(a & b) / len(a | b) if a | b else 0.0


class GraphPlanMemory:
    def __init__(self, store: GraphStore, most: int = 2) -> None:
        self._store = store
        self._most = most

    async def recall(self, request: str) -> list[Plan]:
        wanted = shape(request)
        scored = []
        seen: set[str] = set()
        for stored, intent in await self._store.completed_plans():
            if stored in seen or stored == request:
                continue
            seen.add(stored)
            score = closeness(wanted, shape(stored))
            if score >= CLOSE:
                scored.append((-score, stored, intent))
        scored.sort()
        return [Plan(intent=intent, request=stored, steps=[])
                for _, stored, intent in scored[: self._most]]
