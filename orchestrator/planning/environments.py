"""A deploy to an environment the graph does not hold makes it, as asked; unless
its name is a near miss of one there is, or of a usual one ("prodution"): then it
is most likely a typo, and a new environment made of it would stay, with a
deployment in it, under the misspelt name."""

from __future__ import annotations

import re
from collections.abc import Collection
from difflib import get_close_matches

from orchestrator.errors import CannotPlan
from orchestrator.graph.store import GraphStore
from orchestrator.models import EntityRef
from orchestrator.planning.parser import ENVIRONMENTS

ENVIRONMENT = "environment"
_WORD = re.compile(r"[A-Za-z0-9_-]+")
# How alike a name must be to one there is to be taken for its typo.
NEAR_MISS = 0.85


async def check_environment(
    name: str, app: str | None, made: Collection[tuple[str, str]], store: GraphStore
) -> None:
    """Refuse a deploy's environment that is new and a near miss of a known one;
    one the request makes itself ("create environment prodution") stands."""
    if not name or (ENVIRONMENT, name) in made:
        return
    if await store.get_entity(EntityRef(kind=ENVIRONMENT, name=name)) is not None:
        return
    close = near_miss(name, await _known(store))
    if close is not None:
        deploy = f"deploy {app} to {name}" if app else f"deploy ... to {name}"
        raise CannotPlan(
            f"there is no environment {name!r}: did you mean {close!r}? (answer {close!r}; "
            f"or, for a new one of that name: create environment {name} and {deploy})",
            [], [name])


def near_miss(name: str, known: Collection[str]) -> str | None:
    """The known name `name` most likely misspells, if any. A longer name holding
    a known one is a name of its own (staging2, prod-eu)."""
    close = [k for k in get_close_matches(name, sorted(known), n=1, cutoff=NEAR_MISS)
             if k not in name and k != name]
    return close[0] if close else None


async def corrected(answering: str, answer: str, store: GraphStore) -> str | None:
    """The refused request with its misspelt environment put right, when the
    answer names the environment it meant ("production", "I meant production")
    or agrees ("yes"); None when the answer is not one of those."""
    known = await _known(store)
    words = answer.lower().replace(",", " ").split()
    meant = [ENVIRONMENTS.get(w, w) for w in words if ENVIRONMENTS.get(w, w) in known]
    if len(meant) > 1 or (not meant and words not in (["yes"], ["y"])):
        return None
    changed = False

    def put_right(word: re.Match[str]) -> str:
        nonlocal changed
        close = near_miss(word.group().lower(), known)
        if close is None or (meant and close != meant[0]):
            return word.group()
        changed = True
        return close

    fixed = _WORD.sub(put_right, answering)
    return fixed if changed else None


async def _known(store: GraphStore) -> set[str]:
    held = {e.name for e in await store.find_entities(ENVIRONMENT)}
    return held | set(ENVIRONMENTS.values())
