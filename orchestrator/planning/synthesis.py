"""The dependency synthesiser: requested actions in, a plan of steps out.

The order of steps is never guessed: a step depends on the step that produces
an entity it consumes (capabilities declare both). A consumed entity that no
step produces is taken from the graph when it exists, or made by an inserted
producer step; validate-or-create producers are always inserted, so an existing
environment is checked rather than trusted. Independent branches stay parallel.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from orchestrator.agents.registry import AgentRegistry
from orchestrator.agents.selection import rank
from orchestrator.errors import CannotPlan
from orchestrator.graph.store import GraphStore
from orchestrator.models import AgentStats, Capability, Compensation, EntityRef, Plan, Step
from orchestrator.planning.conversation import from_context
from orchestrator.planning.deploy_targets import resolve_deploy_targets
from orchestrator.planning.parser import Action, check_names

MAX_ID = 63


@dataclass
class _Draft:
    id: str
    capability: Capability
    # Parameter name -> literal value, before producer outputs are wired in.
    bindings: dict[str, str]
    produces: EntityRef
    depends_on: set[str] = field(default_factory=set)

    def entity_bindings(self) -> set[tuple[str, str]]:
        """The other entities this step names (its context), as (kind, name)."""
        return {(k, v) for k, v in self.bindings.items() if k not in ("name", self.produces.kind)}


class Synthesiser:
    def __init__(self, registry: AgentRegistry, store: GraphStore) -> None:
        self._registry = registry
        self._store = store

    async def synthesise(
        self, request: str, actions: list[Action], context: Sequence[EntityRef] = (),
        making: Collection[EntityRef] = (), *, targets_read: bool = False,
    ) -> Plan:
        """`context`: the conversation's entities, for qualifiers an action lacks;
        `making`: entities a running run is making, taken as existing (its steps
        become the dependencies when the plan is added to that run);
        `targets_read`: what each deploy is of was read already (its graph reads
        and checks are not made twice)."""
        if not targets_read:
            actions = await resolve_deploy_targets(actions, self._store, context, making)
            check_names(actions)  # renamed after what a deploy is of
        # What the graph has seen of the agents decides who runs each step.
        stats = await self._store.agent_stats()
        drafts: list[_Draft] = []
        for action in actions:
            draft = self._draft(action, drafts, context)
            # The same thing asked twice is done once; a policy on each of two
            # deployments is two.
            if not any(d.produces == draft.produces and d.capability == draft.capability
                       and d.bindings == draft.bindings for d in drafts):
                drafts.append(draft)
        todo = list(drafts)
        while todo:
            todo += await self._link(todo.pop(0), drafts, making)
        return Plan(
            intent="; ".join(f"{a.verb} {a.kind} {a.name}" for a in actions),
            request=request,
            steps=[to_step(d, drafts, self._registry, stats) for d in drafts],
        )

    def _draft(
        self, action: Action, existing: list[_Draft], context: Sequence[EntityRef]
    ) -> _Draft:
        capability = capability_for(self._registry, action)
        bindings: dict[str, str] = {}
        what = f"{action.verb} {action.kind} {action.name}"
        required = set(capability.input_schema.get("required", []))
        for param in sorted(capability.input_schema.get("properties", {})):
            if param in ("name", action.kind):
                bindings[param] = action.name
            elif param in action.qualifiers:
                bindings[param] = action.qualifiers[param]
            elif (known := from_context(param, context, what)) is not None:
                bindings[param] = known
            elif param not in required:
                continue  # optional (a tool's `description`): the tool's default holds
            else:
                raise CannotPlan(
                    f"to {action.verb} {action.kind} {action.name} I need to know its {param}",
                    [f"{action.verb} {action.kind} {action.name}"], [],
                )
        step_id = _unique_id(f"{action.verb}-{action.kind}-{action.name}", existing)
        return _Draft(step_id, capability, bindings, EntityRef(kind=action.kind, name=action.name))

    async def _link(
        self, draft: _Draft, drafts: list[_Draft], making: Collection[EntityRef]
    ) -> list[_Draft]:
        """Add the draft's dependencies; return producer drafts it had to insert."""
        inserted: list[_Draft] = []
        for kind in draft.capability.consumes:
            name = draft.bindings.get(kind)
            if name is None:
                # Not named by a parameter: depend on every producer of that kind
                # working on the same entities (a deployment waits for its services).
                context = draft.entity_bindings()
                draft.depends_on |= {
                    d.id for d in drafts
                    if d is not draft and d.produces.kind == kind and d.entity_bindings() & context
                }
                continue
            ref = EntityRef(kind=kind, name=name)
            producer = next((d for d in drafts if d.produces == ref), None)
            if producer is None:
                producer = await self._missing_producer(ref, draft, drafts, making)
                if producer is None:
                    continue
                drafts.insert(drafts.index(draft), producer)
                inserted.append(producer)
            draft.depends_on.add(producer.id)
        return inserted

    async def _missing_producer(
        self, ref: EntityRef, consumer: _Draft, drafts: list[_Draft],
        making: Collection[EntityRef],
    ) -> _Draft | None:
        capability = self._registry.producers_of(ref.kind)[0]
        exists = ref in making or await self._store.get_entity(ref) is not None
        if exists and not capability.ensures:
            return None
        params = set(capability.input_schema.get("properties", {}))
        if not params <= {"name", ref.kind}:
            if exists:
                return None
            raise CannotPlan(
                f"{consumer.produces.kind} {consumer.produces.name} needs {ref.kind} "
                f"{ref.name}, which does not exist",
                [f"{consumer.capability.name} {consumer.produces.name}"], [],
            )
        verb = capability.name.split(".")[-1]
        step_id = _unique_id(f"{verb}-{ref.kind}-{ref.name}", drafts)
        return _Draft(step_id, capability, {p: ref.name for p in params}, ref)




class StepDraft(Protocol):
    """A step before its parameters are wired: what synthesis and plan reuse build."""

    id: str
    capability: Capability
    # Parameter name -> literal value, before producer outputs are wired in.
    bindings: dict[str, str]
    produces: EntityRef
    depends_on: set[str]


def to_step(
    draft: StepDraft, drafts: Sequence[StepDraft], registry: AgentRegistry,
    stats: Mapping[str, AgentStats],
) -> Step:
    """The step, its agents ranked by what the graph has seen of them."""
    by_ref = {d.produces.key: d for d in drafts}
    params: dict[str, str] = {}
    for param, value in draft.bindings.items():
        # Entities made earlier in the run arrive through the producer's output (not
        # the step's own kind: another step may make one of that name elsewhere).
        producer = None if param == draft.produces.kind else by_ref.get(f"{param}:{value}")
        if producer is not None and producer is not draft:
            params[param] = f"${{steps.{producer.id}.output.{param}}}"
        else:
            params[param] = value
    compensation = None
    if draft.capability.compensation:
        compensation = Compensation(
            capability=draft.capability.compensation,
            parameters={**params, "owner": f"${{steps.{draft.id}.output.owner}}"},
        )
    name = draft.capability.name
    agent, fallbacks = assign_agents(registry, name, stats)
    made = _as_named(draft.produces, draft.capability, draft.bindings)
    operates_on = {made.key: made}
    for kind, value in draft.bindings.items():
        if kind not in ("name", draft.produces.kind):
            operates_on.setdefault(f"{kind}:{value}", EntityRef(kind=kind, name=value))
    return Step(
        id=draft.id, capability=name, agent=agent, fallbacks=fallbacks, parameters=params,
        depends_on=sorted(draft.depends_on), optional=draft.capability.optional,
        requires_approval=draft.capability.sensitive, compensation=compensation,
        operates_on=[operates_on[k] for k in sorted(operates_on)],
    )


def assign_agents(
    registry: AgentRegistry, capability: str, stats: Mapping[str, AgentStats]
) -> tuple[str, list[str]]:
    """The agent a step of this capability runs on, and its fallbacks in order,
    ranked by what the graph has seen of the providers."""
    agents = rank(registry.providers(capability), capability, stats)
    if not agents:
        raise CannotPlan(f"no agent provides {capability}", [], [])
    return agents[0].id, [a.id for a in agents[1:]]


def capability_for(registry: AgentRegistry, action: Action) -> Capability:
    """What carries out an action: of the capabilities making its kind, those whose
    required parameters the action can fill (a tool that shares the verb but needs a
    cluster the request never named does not fit), then the one its verb names."""
    producers = registry.producers_of(action.kind)
    if not producers:
        raise CannotPlan(f"no capability makes a {action.kind}", [], [action.kind])
    known = {"name", action.kind, *action.qualifiers}
    fitting = [c for c in producers if set(c.input_schema.get("required", [])) <= known]
    candidates = fitting or producers
    exact = [c for c in candidates if c.name.split(".")[-1] == action.verb]
    return (exact or candidates)[0]


def _unique_id(base: str, drafts: list[_Draft]) -> str:
    base = base[:MAX_ID].rstrip("-_")
    taken = {d.id for d in drafts}
    candidate, n = base, 2
    while candidate in taken:
        suffix = f"-{n}"
        candidate, n = base[: MAX_ID - len(suffix)] + suffix, n + 1
    return candidate


def _as_named(ref: EntityRef, capability: Capability, bindings: Mapping[str, str]) -> EntityRef:
    """What the step makes, named as its agent will name it (`Capability.names`);
    as asked when the parameters do not make a valid name (the step then fails
    saying why)."""
    if capability.names is None:
        return ref
    try:
        return EntityRef(kind=ref.kind, name=capability.names.format_map(bindings))
    except (KeyError, ValueError):  # a pydantic ValidationError is a ValueError
        return ref

