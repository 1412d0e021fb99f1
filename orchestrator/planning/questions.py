"""Requests that ask what is there rather than for something to do.

"what is deployed to production?" plans nothing: the rules read "deploy" and then
words they do not know, and refused with "deploy deployment production" as what
they understood. The graph holds the answer, so the refusal says where to read
it, with an entity the question names when the graph has one.
"""

from __future__ import annotations

import re

from orchestrator.errors import CannotPlan
from orchestrator.graph.store import GraphStore
from orchestrator.models import EntityRef

ASKING = frozenset({"what", "which", "where", "who", "whose", "how", "is", "are", "does",
                    "do", "list", "show"})
# The kinds a question most often names, in the order tried.
KINDS = ("environment", "application", "service", "deployment")
MAX_WORDS = 12
# Words as entity names are written (models.NAME_PATTERN).
_WORD = re.compile(r"[a-z][a-z0-9_-]{0,62}")


def asks(message: str) -> bool:
    words = _WORD.findall(message.lower())
    return message.rstrip().endswith("?") or bool(words and words[0] in ASKING)


async def question_refused(
    message: str, store: GraphStore, understood: list[str], not_understood: list[str]
) -> CannotPlan:
    """The refusal of a question the rules could not read: where the answer is."""
    named = await _named(message, store)
    kind, name = (named.kind, named.name) if named else ("<kind>", "<name>")
    return CannotPlan(
        "a question, not something to do: the graph holds what runs made: `orchestrator "
        f"graph` lists it, and `orchestrator graph {kind} {name}` shows one entity and "
        f"what relates to it (GET /v1/graph/entities/{kind}/{name})",
        understood, not_understood, question=True)


async def _named(message: str, store: GraphStore) -> EntityRef | None:
    """The first entity the graph holds under a word of the message."""
    words = list(dict.fromkeys(_WORD.findall(message.lower())))[:MAX_WORDS]
    for word in (w for w in words if w not in ASKING):
        for kind in KINDS:
            ref = EntityRef(kind=kind, name=word)
            if await store.get_entity(ref) is not None:
                return ref
    return None
