"""Plan memory: requests like this one that were planned and ran to completion.

"Close" is measured on what a request asks for, not on its names: each request
is read by the offline parser into actions, and two requests are compared by the
Jaccard index of their (verb, kind) multisets (how many of each: two policies are
not one); among equally close runs the last to finish comes first. "Create
application shop with payment service" and "create application ecommerce with
billing service" are identical in shape (1.0), and a request asking for one more
thing than a stored one scores lower. Plan reuse (reuse.py) asks more than
closeness before it renames a stored plan.
"""

from __future__ import annotations

import functools
from collections import Counter

from orchestrator.errors import OrchestratorError
from orchestrator.graph.store import CompletedRun, GraphStore
from orchestrator.models import Model, Plan
from orchestrator.planning.parser import ParsedRequest, parse_request

# Below this a stored plan is not close enough to show.
CLOSE = 0.6


class Recalled(Model):
    """A completed run's request, how close it is, and the run that carried it out."""

    workflow_id: str
    request: str
    intent: str
    similarity: float


@functools.lru_cache(maxsize=2048)
def parsed(request: str) -> ParsedRequest | None:
    """The parser's reading, kept: the memory reads the same stored requests again
    for every new one, and reading is a pure function of the text."""
    try:
        return parse_request(request)
    except OrchestratorError:
        return None


Shape = tuple[tuple[tuple[str, str], int], ...]


@functools.lru_cache(maxsize=2048)
def shape(request: str) -> Shape:
    """What the request asks for, as how many of each (verb, kind); kept like the
    reading, as every plan compares against every stored request."""
    reading = parsed(request)
    counts = Counter((a.verb, a.kind) for a in reading.actions) if reading else Counter()
    return tuple(sorted(counts.items()))


def closeness(a: Shape, b: Shape) -> float:
    """The Jaccard index of two multisets: what both ask for over what either does."""
    left, right = Counter(dict(a)), Counter(dict(b))
    union = sum((left | right).values())
    return sum((left & right).values()) / union if union else 0.0


class GraphPlanMemory:
    def __init__(self, store: GraphStore, most: int = 2) -> None:
        self._store = store
        self._most = most

    async def recall(self, request: str) -> list[Plan]:
        return [Plan(intent=r.intent, request=r.request, steps=[])
                for r in await self.closest(request)]

    async def closest(self, request: str, same: bool = False) -> list[Recalled]:
        """The closest completed runs of other requests (and of this very request when
        `same`), closest (then newest) first."""
        wanted = shape(request)
        found: list[tuple[float, CompletedRun]] = []
        seen: set[str] = set()
        for run in await self._store.completed_runs():
            if run.request in seen or (run.request == request and not same):
                continue
            seen.add(run.request)
            score = closeness(wanted, shape(run.request))
            if score >= CLOSE:
                found.append((score, run))
        # Stable: among equally close runs the store's newest-first order stands.
        found.sort(key=lambda scored: -scored[0])
        # Only the few returned are made into models: with hundreds of similar runs
        # stored, making them all cost each plan ~2 ms.
        return [Recalled(workflow_id=run.workflow_id, request=run.request, intent=run.intent,
                         similarity=score)
                for score, run in found[: self._most]]
