"""Structural plan reuse: a request shaped exactly like one that ran to completion
is planned by renaming that run's plan instead of synthesising a new one.

A stored plan stands in only when it has the same structure:
- both requests read into the same multiset of (verb, kind) actions, in the same
  order (actions are paired by position, so a request whose clauses come in
  another order is synthesised), and one renaming of entities, one-to-one per
  kind, turns the stored request's actions (names and qualifiers) exactly into
  the new ones;
- the stored request, read today, still gives the intent its plan recorded, so
  the plan came from these actions (not from a model, nor from an older reading).
The stored run's steps, capabilities, edges and inserted producers, as the graph
keeps them, are then renamed (a step is known by its id, which synthesis makes
from what the step makes: "<verb>-<kind>-<name>") and checked against today's
catalogue and graph, so reuse is never less correct than synthesis:
- each capability must be the one synthesis would choose today;
- an inserted producer of an entity that exists now is dropped, unless it
  validates-or-creates (as synthesis would not insert it);
- an entity the stored plan took from the graph must still exist; if not, the
  graph differs and the request is synthesised instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from orchestrator.agents.registry import AgentRegistry
from orchestrator.errors import InvalidInput
from orchestrator.graph.store import GraphStore, RunShape
from orchestrator.models import Capability, EntityRef, Plan
from orchestrator.planning.memory import GraphPlanMemory, Recalled, parsed
from orchestrator.planning.parser import Action
from orchestrator.planning.synthesis import capability_for, to_step

MAX_ID = 63
# Stored runs tried per request, closest and newest first.
CANDIDATES = 5
# Stored plans' shapes kept in memory: a completed run's steps never change.
KEPT_RUNS = 256
Names = dict[tuple[str, str], str]


def intent_of(actions: list[Action]) -> str:
    return "; ".join(f"{a.verb} {a.kind} {a.name}" for a in actions)


def renaming(old: list[Action], new: list[Action]) -> Names | None:
    """(kind, old name) -> new name turning `old` into `new`, one-to-one per kind;
    None when no such renaming exists."""
    if len(old) != len(new):
        return None
    names: Names = {}
    for a, b in zip(old, new, strict=True):
        if (a.verb, a.kind) != (b.verb, b.kind) or a.qualifiers.keys() != b.qualifiers.keys():
            return None
        pairs = [(a.kind, a.name, b.name)]
        pairs += [(kind, a.qualifiers[kind], b.qualifiers[kind]) for kind in a.qualifiers]
        for kind, before, after in pairs:
            if names.setdefault((kind, before), after) != after:
                return None
    taken = [(kind, after) for (kind, _), after in names.items()]
    return names if len(set(taken)) == len(taken) else None


@dataclass
class _Part:
    """One step of the renamed plan, before its parameters are wired."""

    id: str
    capability: Capability
    produces: EntityRef
    bindings: dict[str, str]
    # Made for an entity the request names only as something another step needs.
    inserted: bool
    depends_on: set[str] = field(default_factory=set)


class PlanReuse:
    def __init__(self, registry: AgentRegistry, store: GraphStore) -> None:
        self._registry = registry
        self._store = store
        self._memory = GraphPlanMemory(store, most=CANDIDATES)
        self._runs: dict[str, RunShape] = {}

    async def plan(self, request: str, actions: list[Action]) -> Plan | None:
        """The plan of the closest stored run of the same structure, renamed for
        this request, or None when none fits."""
        for stored in await self._memory.closest(request, same=True):
            if stored.similarity < 1.0:
                break  # the same actions read as the same set of (verb, kind)
            reading = parsed(stored.request)
            if reading is None or intent_of(reading.actions) != stored.intent:
                continue
            names = renaming(reading.actions, actions)
            if names is None:
                continue
            parts = await self._instantiate(await self._run(stored.workflow_id), names, actions)
            if parts is not None:
                return await self._plan(request, actions, parts, stored)
        return None

    async def _run(self, workflow_id: str) -> RunShape:
        run = self._runs.get(workflow_id)
        if run is None:
            # One read: the newest stored run of a shape is usually read by no one yet.
            run = await self._store.run_shape(workflow_id)
            if len(self._runs) >= KEPT_RUNS:
                del self._runs[next(iter(self._runs))]  # the earliest kept
            self._runs[workflow_id] = run
        return run

    async def _instantiate(
        self, run: RunShape, names: Names, actions: list[Action]
    ) -> list[_Part] | None:
        wanted = {(a.kind, a.name): a for a in actions}
        parts: dict[str, _Part] = {}
        for step_id in sorted(run.capabilities):
            try:
                capability = self._registry.capability(run.capabilities[step_id])
            except InvalidInput:
                return None  # gone from the catalogue
            made = [(kind, old) for kind, old in names
                    if kind in capability.produces and _makes(step_id, kind, old)]
            if len(made) != 1:
                return None  # a step this request's names cannot account for
            ref = EntityRef(kind=made[0][0], name=names[made[0]])
            action = wanted.pop((ref.kind, ref.name), None)
            part = self._part(capability, ref, action)
            if part is None:
                return None
            parts[step_id] = part
        if wanted or len({p.id for p in parts.values()}) != len(parts):
            return None  # an action no stored step carries out, or ids that collide
        for step_id, dependency in run.depends_on:
            if step_id not in parts or dependency not in parts:
                return None
            parts[step_id].depends_on.add(parts[dependency].id)
        return await self._against_graph(_in_order(list(parts.values()), actions))

    def _part(self, capability: Capability, ref: EntityRef, action: Action | None
              ) -> _Part | None:
        params = sorted(capability.input_schema.get("properties", {}))
        producers = self._registry.producers_of(ref.kind)
        if not self._registry.providers(capability.name):
            return None  # synthesis says why it cannot plan this
        if action is None:  # a producer synthesis inserted for an entity that was missing
            if capability != producers[0] or not set(params) <= {"name", ref.kind}:
                return None
            bindings = {p: ref.name for p in params}
            verb = capability.name.split(".")[-1]
        else:
            if capability != capability_for(self._registry, action):
                return None
            bindings = {}
            for p in params:
                value = action.name if p in ("name", ref.kind) else action.qualifiers.get(p)
                if value is None:
                    return None
                bindings[p] = value
            verb = action.verb
        step_id = f"{verb}-{ref.kind}-{ref.name}"
        if len(step_id) > MAX_ID:
            return None  # synthesis shortens it; ids of equal length keep to its rules
        return _Part(step_id, capability, ref, bindings, inserted=action is None)

    async def _against_graph(self, parts: list[_Part]) -> list[_Part] | None:
        """Today's graph decides which inserted producers stay; None if it differs from
        the stored plan's in a way renaming cannot cover."""
        kept: list[_Part] = []
        for part in parts:
            optional = part.inserted and not part.capability.ensures
            if optional and await self._store.get_entity(part.produces) is not None:
                continue
            kept.append(part)
        ids = {p.id for p in kept}
        made = {p.produces.key for p in kept}
        for part in kept:
            part.depends_on &= ids
            for kind, name in part.bindings.items():
                ref = EntityRef(kind=kind, name=name)
                if kind not in part.capability.consumes or ref.key in made:
                    continue
                # Synthesis would insert a producer here: the stored plan has none.
                if self._registry.producers_of(kind)[0].ensures:
                    return None
                if await self._store.get_entity(ref) is None:
                    return None
        return kept

    async def _plan(
        self, request: str, actions: list[Action], parts: list[_Part], stored: Recalled
    ) -> Plan:
        stats = await self._store.agent_stats()
        return Plan(
            intent=intent_of(actions),
            request=request,
            steps=[to_step(p, parts, self._registry, stats) for p in parts],
            reused_from=stored.workflow_id,
            reuse_similarity=stored.similarity,
        )



def _makes(step_id: str, kind: str, name: str) -> bool:
    """Whether synthesis's id "<verb>-<kind>-<name>" says the step makes this entity."""
    verb, _, rest = step_id.partition("-")
    return bool(verb) and rest == f"{kind}-{name}"


def _in_order(parts: list[_Part], actions: list[Action]) -> list[_Part]:
    """Synthesis's order: the actions' steps in the request's order, each inserted
    producer just before the first step that waits for it (several, in the order
    that step's capability consumes them)."""
    position = {(a.kind, a.name): i for i, a in enumerate(actions)}
    placed = sorted((p for p in parts if not p.inserted),
                    key=lambda p: position[(p.produces.kind, p.produces.name)])
    waiting = [p for p in parts if p.inserted]
    while waiting:
        before = len(waiting)
        i = 0
        while i < len(placed):
            user = placed[i]
            for kind in user.capability.consumes:
                for part in [p for p in waiting
                             if p.id in user.depends_on and p.produces.kind == kind]:
                    waiting.remove(part)
                    placed.insert(i, part)
                    i += 1
            i += 1
        if len(waiting) == before:
            return placed + waiting
    return placed
