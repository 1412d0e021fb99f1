"""Filling a tool step's parameters. The first of these that gives a value wins:
1. the request: `key=value` pairs and values said in words (`tool_values`), then
   the goal's `key=value` pairs;
2. for a required parameter, an earlier step's output that gives it (`source_of`);
3. the tool's configured `defaults`;
4. what the clause refers to ("it", "my app") or else the goal's subject ("deploy
   shop using ..."): the one required parameter left that names something
   (`name`, `<x>_name`, or an entity kind such as `cluster` or `app`): the one of
   the subject's kind, else the one whose kind the graph holds an entity of that
   name of, else the one the graph has no entity for, else the only one ("it" is
   never a step the parameters already take something from);
5. the graph: a required parameter naming an entity kind of which the graph holds
   exactly one takes that entity's name (as the built-in synthesiser reuses
   existing entities); several end planning with "which cluster? a or b";
6. a notification's text, composed from the steps it reports on (`tool_text`).
A required parameter still unset ends planning, naming it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orchestrator.agents.registry import AgentRegistry
from orchestrator.errors import CannotPlan
from orchestrator.graph.store import GraphStore
from orchestrator.planning.tool_flow import ToolDraft, produces, source_of, step_id
from orchestrator.planning.tool_match import typed
from orchestrator.planning.tool_subject import (
    Earlier,
    Subject,
    entity_kinds,
    from_earlier,
    resolve,
)
from orchestrator.planning.tool_text import compose, composes
from orchestrator.planning.tool_values import kind_of


@dataclass
class RequestFacts:
    """What the whole request gives every step."""

    goal_arguments: dict[str, str]
    subject: Subject | None
    understood: list[str]


class Binder:
    def __init__(self, registry: AgentRegistry, store: GraphStore) -> None:
        self._registry = registry
        self._store = store
        self._kinds = entity_kinds(registry)
        self._names: dict[str, list[str]] = {}

    async def bind(self, draft: ToolDraft, request: RequestFacts, earlier: Earlier) -> None:
        capability = draft.capability
        schema = capability.input_schema
        properties: dict[str, Any] = schema.get("properties", {})
        required = [r for r in schema.get("required", []) if r in properties]
        unknown = sorted(set(draft.arguments) - set(properties))
        if unknown:
            raise CannotPlan(
                f"{capability.name} takes no argument {unknown[0]!r} "
                f"(it takes: {', '.join(sorted(properties)) or 'none'})", request.understood, [],
            )
        for name, prop in properties.items():
            given = draft.arguments.get(name, request.goal_arguments.get(name))
            if given is not None:
                draft.params[name] = typed(given, prop if isinstance(prop, dict) else {})
        for name in (r for r in required if r not in draft.params):
            source = source_of(name, earlier, self._registry)
            if source is not None:
                draft.params[name], producer = source
                draft.depends_on.add(producer)
        for name, value in capability.defaults.items():
            if name in properties:
                draft.params.setdefault(name, value)
        await self._subject(draft, request, earlier, required)
        for name in (r for r in required if r not in draft.params):
            found = await self._entities(name)
            if len(found) > 1:
                raise CannotPlan(f"which {kind_of(name)} for {capability.name}? "
                                 f"{' or '.join(found)} (say {name}=...)", request.understood, [])
            if found:
                draft.params[name] = found[0]
        for name in (r for r in required if r not in draft.params and composes(draft, r)):
            composed = compose(draft, earlier, self._registry)
            if composed is not None:
                draft.params[name], about = composed
                draft.depends_on |= about
        missing = [r for r in required if r not in draft.params]
        if missing:
            raise CannotPlan(f"to call {capability.name} I need its {missing[0]} "
                             f"(say {missing[0]}=...)", request.understood, [])
        for kind in capability.consumes:
            draft.depends_on |= {
                step_id(s) for _, s in earlier if kind in produces(s, self._registry)}

    async def _subject(
        self, draft: ToolDraft, request: RequestFacts, earlier: Earlier, required: list[str]
    ) -> None:
        subject = request.subject
        if draft.reference is not None:
            said = await resolve(draft.reference, earlier, self._registry, self._store,
                                 request.understood, frozenset(draft.depends_on))
            subject = said or subject
            if subject is None and draft.depends_on and all(r in draft.params for r in required):
                # "create repository x then create branch y on it": what it stands for
                # is what an earlier step gives already, and nothing is left to give.
                return
            if subject is None:
                raise CannotPlan(f"nothing earlier in the request is {draft.reference!r} "
                                 f"for {draft.capability.name}", request.understood, [])
        if subject is None:
            return
        open_ = [r for r in required if r not in draft.params and await self._naming(r)]
        # A parameter of a kind the tool says it takes (`consumes`) is not given an
        # entity of another kind: "it" being an application is no bucket, though
        # with no bucket in the graph nothing else would tell them apart.
        other = [r for r in open_ if subject.kind and kind_of(r) != subject.kind
                 and kind_of(r) in draft.capability.consumes]
        open_ = [r for r in open_ if r not in other]
        if not open_ and other and draft.reference is not None:
            named = f"{subject.kind} {subject.name}" if subject.name else (
                f"the {subject.kind} {subject.step} makes" if subject.step else subject.kind)
            raise CannotPlan(f"{draft.reference!r} is {named}, and {draft.capability.name} "
                             f"takes a {kind_of(other[0])}: nothing earlier in the request "
                             "is one", request.understood, [])
        if not open_:
            return
        of_kind = [r for r in open_ if subject.kind and kind_of(r) == subject.kind]
        named_in_graph = [r for r in open_ if subject.name in await self._entities(r)]
        unknown_to_graph = [r for r in open_ if not await self._entities(r)]
        for choice in (of_kind, named_in_graph, unknown_to_graph, open_):
            if len(choice) == 1:
                target = choice[0]
                break
        else:
            first, second = open_[:2]
            raise CannotPlan(f"{subject.said!r} could be the {first} or the {second} of "
                             f"{draft.capability.name}; say which ({first}=... or "
                             f"{second}=...)", request.understood, [])
        subject = from_earlier(subject, earlier)
        draft.params[target] = subject.value
        if subject.step is not None:
            draft.depends_on.add(subject.step)

    async def _naming(self, param: str) -> bool:
        """Whether the parameter names a thing: `name`, `<x>_name`, or a kind."""
        return (param == "name" or param.endswith("_name") or kind_of(param) in self._kinds
                or bool(await self._entities(param)))

    async def _entities(self, param: str) -> list[str]:
        """Names of the graph's entities of the kind the parameter names."""
        kind = kind_of(param)
        if kind not in self._names:
            self._names[kind] = sorted({e.name for e in await self._store.find_entities(kind)})
        return self._names[kind]
