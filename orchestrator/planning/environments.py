"""A deploy to an environment the graph does not hold makes it, as asked; unless
its name is a near miss of one there is, or of a usual one ("prodution"): then it
is most likely a typo, and a new environment made of it would stay, with a
deployment in it, under the misspelt name."""

from __future__ import annotations

from collections.abc import Collection
from difflib import get_close_matches

from orchestrator.errors import CannotPlan
from orchestrator.graph.store import GraphStore
from orchestrator.models import EntityRef
from orchestrator.planning.parser import ENVIRONMENTS

ENVIRONMENT = "environment"
# How alike a name must be to one there is to be taken for its typo.
NEAR_MISS = 0.85


async def check_environment(
    name: str, made: Collection[tuple[str, str]], store: GraphStore
) -> None:
    """Refuse a deploy's environment that is new and a near miss of a known one;
    one the request makes itself ("create environment prodution") stands."""
    if not name or (ENVIRONMENT, name) in made:
        return
    if await store.get_entity(EntityRef(kind=ENVIRONMENT, name=name)) is not None:
        return
    held = {e.name for e in await store.find_entities(ENVIRONMENT)}
    known = sorted(held | set(ENVIRONMENTS.values()))
    # A longer name holding a known one is a name of its own (staging2, prod-eu).
    close = [k for k in get_close_matches(name, known, n=1, cutoff=NEAR_MISS) if k not in name]
    if close:
        raise CannotPlan(
            f"there is no environment {name!r}: did you mean {close[0]!r}? (to make a new "
            f"one of that name, ask for it: create environment {name}, then deploy)",
            [], [name])
