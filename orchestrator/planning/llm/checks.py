"""Checks of the model's answer before the synthesiser sees it.

The model proposes; the registry and the graph decide. A problem found here is told
to the model in one repair round, so each says what is wrong and what would be right.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from orchestrator.agents.registry import AgentRegistry
from orchestrator.graph.store import GraphStore
from orchestrator.models import EntityRef, is_valid_name
from orchestrator.planning.llm.answer import PlanningAnswer, RequestedAction
from orchestrator.planning.llm.retrieval import stems
from orchestrator.planning.parser import ENVIRONMENTS, SAID_VERBS

# Alternatives named in a problem: enough to correct it, not the whole catalogue.
MAX_LISTED = 5


async def answer_problems(
    answer: PlanningAnswer, registry: AgentRegistry, store: GraphStore
) -> list[str]:
    """Everything that keeps the answer from being planned; empty when it can be."""
    if not answer.actions:
        return ["the answer lists no actions"]
    problems: list[str] = []
    for i, action in enumerate(answer.actions, start=1):
        problems += [f"action {i} ({action.describe()}): {p}" for p in _action_problems(
            action, registry)]
    for mention in answer.references:
        if not (is_valid_name(mention.kind) and is_valid_name(mention.name)):
            problems.append(f"reference {mention.kind} {mention.name!r} is not a valid name")
        elif await store.get_entity(EntityRef(kind=mention.kind, name=mention.name)) is None:
            problems.append(f"reference {mention.kind} {mention.name} does not exist")
    return problems


def _action_problems(action: RequestedAction, registry: AgentRegistry) -> list[str]:
    problems = [
        f"{what} {value!r} is not a valid name (lowercase letters, digits, '-', '_')"
        for what, value in (("kind", action.kind), ("name", action.name),
                            *((f"qualifier {q.key}", q.value) for q in action.qualifiers))
        if not is_valid_name(value)
    ]
    keys = [q.key for q in action.qualifiers]
    problems += [f"qualifier {k} is given twice" for k in sorted(set(keys)) if keys.count(k) > 1]
    producers = registry.producers_of(action.kind)
    if not producers:
        return [*problems, f"no capability produces the kind {action.kind!r}"]
    # Strict on the verb: the synthesiser would fall back to any producer of the kind,
    # which would turn "delete application shop" into creating it.
    verbs = {c.name.split(".")[-1] for c in producers}
    if SAID_VERBS.get(action.kind) != action.verb and action.verb not in verbs:
        known = ", ".join(c.name for c in producers[:MAX_LISTED])
        problems.append(f"no capability {action.verb!r} produces the kind {action.kind}; "
                        f"those that do: {known}")
    return problems


def unfounded_names(
    answer: PlanningAnswer, request: str, known: Collection[EntityRef]
) -> list[str]:
    """Names in the answer that are words of neither the request nor the entities
    the conversation knows (`known`): a model answering another request, or making
    a name up, would otherwise have that thing made. A name may join the request's
    words ("ecommerce-production"), and "prod" stands for "production"."""
    # Not the answer's own references: a model naming an entity of the graph there
    # would make any name pass ("deploy blog" in an answer to "create lambda").
    names = [ref.name for ref in known]
    words = stems(request) | set(names) | stems(" ".join(names))
    words |= {ENVIRONMENTS[w] for w in words if w in ENVIRONMENTS}
    problems: list[str] = []
    for i, action in enumerate(answer.actions, start=1):
        for what, value in (("name", action.name),
                            *((f"qualifier {q.key}", q.value) for q in action.qualifiers)):
            missing = [part for part in re.split(r"[-_]", value)
                       if part and stems(part) - words and part not in words]
            if missing:
                problems.append(
                    f"action {i} ({action.describe()}): {what} {value!r} is not in the "
                    f"request ({', '.join(map(repr, missing))} is not a word of it): "
                    "name things with the request's own words")
    return problems
