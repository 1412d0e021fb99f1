"""Resolving a reference in a request ("my application", "the payment service",
"what is deployed to staging") to the entities it names.

Deterministic and plain: words are matched against the kinds and names in the
graph, never guessed. The first rule that applies decides:
1. words naming entities ("payment") give those entities, of the kind if one is known;
2. an environment after "to", "in", "on" or "at" gives what is deployed to it or
   runs in it, of the kind if one is known;
3. a kind alone ("my application") gives every entity of that kind;
4. anything else refers to nothing.
A kind asked for narrows what the text gives; it does not stand for the text
("nope" of kind cluster is nothing, as "nope" is).
Words saying something is wrong ("failing", "broken", "down") then prefer, among
the candidates, those part of a failing deployment (one whose `health` attribute
is "failing": the deployment, what it deploys, where it runs, its policies, its
application's services); when none is, they narrow nothing.
Every candidate is returned, sorted by name: choosing among them is the caller's.
"""

from __future__ import annotations

import re

from orchestrator.graph import queries as q
from orchestrator.graph.results import Read, entity_from_row, relation_from_row
from orchestrator.graph.store import EntityRecord

_WORD = re.compile(r"[a-z0-9][a-z0-9_-]*")
_PLACEMENT = {"to", "in", "on", "at"}
# Short forms people use for kinds.
_ALIASES = {"app": "application", "apps": "application", "env": "environment",
            "envs": "environment", "svc": "service"}
TROUBLE = frozenset({"fail", "failing", "failed", "fails", "broken", "down", "crashing",
                     "crashed", "crashes", "unhealthy", "erroring", "wrong"})
# The attribute, and its value, by which an entity is known to be failing.
HEALTH, FAILING = "health", "failing"


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def kind_word(tokens: list[str], kinds: set[str]) -> tuple[str, str] | None:
    """The first word that names a kind of entity (singular, plural or short), with
    the kind it names."""
    for token in tokens:
        singular = token[:-3] + "y" if token.endswith("ies") else token.removesuffix("s")
        for kind in (token, _ALIASES.get(token, ""), singular):
            if kind in kinds:
                return token, kind
    return None


def placements(tokens: list[str], environments: set[str]) -> set[str]:
    """Environments named right after a word of placement ("deployed to staging")."""
    found = set()
    for word, after, later in zip(tokens, tokens[1:], [*tokens[2:], ""], strict=False):
        place = later if after == "the" else after
        if word in _PLACEMENT and place in environments:
            found.add(place)
    return found


async def resolve(read: Read, text: str, kind: str | None) -> list[EntityRecord]:
    """The entities `text` refers to, with the store's `read`; `kind` narrows them."""
    found = await _resolve(read, text, kind)
    if found and TROUBLE & set(words(text)):
        involved = await _in_failing_deployments(read)
        return [e for e in found if e.ref.key in involved] or found
    return found


async def _in_failing_deployments(read: Read) -> set[str]:
    """Keys of the entities part of a deployment marked failing."""
    involved: set[str] = set()
    for row in await read(q.FIND_ENTITIES_OF_KIND, kind="deployment"):
        deployment = entity_from_row(row)
        if deployment.attrs.get(HEALTH) != FAILING:
            continue
        involved.add(deployment.ref.key)
        for relation in map(relation_from_row,
                            await read(q.ENTITY_RELATIONS, id=deployment.ref.key)):
            involved |= {relation.source.key, relation.target.key}
            if relation.type == "deploys":
                app = relation.target
                involved |= {
                    r.target.key for r in map(relation_from_row,
                                              await read(q.ENTITY_RELATIONS, id=app.key))
                    if r.type == "owns" and r.source == app
                }
    return involved


async def _resolve(read: Read, text: str, kind: str | None) -> list[EntityRecord]:
    tokens = words(text)
    if not tokens:
        return []
    kinds = {row[0] for row in await read(q.ENTITY_KINDS)} | ({kind} if kind else set())
    said = kind_word(tokens, kinds)
    if said is not None:
        word, named_kind = said
        if kind is not None and named_kind != kind:
            return []  # "my application" among the services
        kind = named_kind
        tokens = [t for t in tokens if t != word]
    named = [entity_from_row(r) for r in await read(q.ENTITIES_NAMED, names=tokens)]
    places = placements(tokens, {e.name for e in named if e.kind == "environment"})
    named = [e for e in named if not (e.kind == "environment" and e.name in places)]
    if named:
        return _of_kind(named, kind)
    if places:
        rows = await read(q.PLACED_IN, ids=[f"environment:{p}" for p in sorted(places)])
        return _of_kind([entity_from_row(r) for r in rows], kind)
    if said is not None:
        return [entity_from_row(r) for r in await read(q.FIND_ENTITIES_OF_KIND, kind=kind)]
    return []


def _of_kind(entities: list[EntityRecord], kind: str | None) -> list[EntityRecord]:
    chosen = [e for e in entities if kind is None or e.kind == kind]
    return sorted(chosen, key=lambda e: (e.name, e.kind))
