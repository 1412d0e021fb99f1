"""Troubleshooting requests ("my application is failing in staging, fix it"):
find the failing deployment through the graph, then inspect it, diagnose it four
ways at once, fix what the diagnoses found and deploy it again. Only a request to
fix changes anything: a question ("why is shop failing in staging?"), a request to
diagnose, or a report ("the payment service is down") stops after the diagnoses,
and "fix it" in the same conversation goes on from there.

The target is never guessed: the words are resolved against the graph
(`resolve_reference`), the entities found lead to their deployments, and of
those only the ones in the environment named and marked failing qualify. None,
or several, and the request is refused with the reason. The order of the steps
comes from what their capabilities consume and produce.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from orchestrator.agents.health import HEALTH, is_failing
from orchestrator.agents.registry import AgentRegistry
from orchestrator.agents.troubleshooting import CHECKS, FIX, INSPECT, REDEPLOY, diagnosis
from orchestrator.errors import CannotPlan
from orchestrator.graph.references import TROUBLE, words
from orchestrator.graph.store import EntityRecord, GraphStore, Relation
from orchestrator.models import AgentStats, Capability, Compensation, EntityRef, Plan, Step
from orchestrator.planning.parser import ENVIRONMENTS
from orchestrator.planning.synthesis import assign_agents

# Asking for a repair is enough on its own; saying something is wrong (`TROUBLE`)
# is enough unless the request also asks to make things, and is answered with the
# diagnoses alone.
FIXING = frozenset({"fix", "repair", "troubleshoot", "heal", "remediate"})
LOOKING = frozenset({"diagnose", "debug", "investigate"})
REPAIR = FIXING | LOOKING
MAKING = frozenset({"create", "build", "make", "add", "deploy", "apply", "ensure", "set"})
_PLACEMENT = frozenset({"in", "on", "at", "to"})
# What leads from an entity towards the deployments it is part of: the type of a
# relationship ending at it, and the kind of entity it comes from.
_TOWARDS_DEPLOYMENT = {
    "application": ("deploys", "deployment"),
    "environment": ("runs_in", "deployment"),
    "policy": ("has_policy", "deployment"),
    "service": ("owns", "application"),
}


@dataclass
class TroubleRequest:
    # The environment named after "in", "on", "at" or "to", if any.
    environment: str | None
    words: list[str] = field(default_factory=list)
    # Fix and redeploy after the diagnoses; False: diagnose only.
    fix: bool = True


def read_trouble(message: str) -> TroubleRequest | None:
    """The request as a troubleshooting one, or None if it is not one."""
    tokens = words(message)
    found = set(tokens)
    if not (found & REPAIR or (found & TROUBLE and not found & MAKING)):
        return None
    environment = None
    for word, after, later in zip(tokens, tokens[1:], [*tokens[2:], ""], strict=False):
        if word in _PLACEMENT:
            place = later if after == "the" else after
            environment = ENVIRONMENTS.get(place, place)
            break
    return TroubleRequest(environment=environment, words=tokens, fix=bool(found & FIXING))


class TroubleshootPlanner:
    def __init__(self, registry: AgentRegistry, store: GraphStore) -> None:
        self._registry = registry
        self._store = store

    async def plan(self, message: str, context: Sequence[EntityRef] = ()) -> Plan:
        """`context`: the conversation's entities ("fix it" after a diagnosis of
        checkout; "the ecommerce one" answering which of several is meant)."""
        request = read_trouble(message)
        if request is None:
            raise CannotPlan("the request asks to fix nothing", [], [])
        target = await self._target(message, request, context)
        relations = await self._store.relations(target.ref)
        app = _other_end(relations, target.ref, "deploys", "application")
        env = _other_end(relations, target.ref, "runs_in", "environment")
        if app is None or env is None:
            raise CannotPlan(f"deployment {target.name} deploys no application or runs "
                             "nowhere: there is nothing to redeploy",
                             [f"troubleshoot deployment {target.name}"], [])
        stats = await self._store.agent_stats()
        drafts = _drafts(target.name, app, env)
        if not request.fix:  # the inspection and the diagnoses: they change nothing
            drafts = [d for d in drafts if d.capability not in (FIX, REDEPLOY)]
        steps = _link([self._step(d, stats) for d in drafts], self._registry)
        verb = "troubleshoot" if request.fix else "diagnose"
        return Plan(intent=f"{verb} deployment {target.name}", request=message, steps=steps)

    async def _target(self, message: str, request: TroubleRequest,
                      context: Sequence[EntityRef]) -> EntityRecord:
        """The one failing deployment the request refers to: by what it names, or,
        naming nothing, by the conversation's entities; of several, the one the
        conversation names."""
        where = f" to {request.environment}" if request.environment else ""
        named = await self._store.resolve_reference(message)
        talked_of = _most_specific(
            [e for e in [await self._store.get_entity(ref) for ref in context] if e])
        if not named:
            named = talked_of
        understood = [f"troubleshoot {e.kind} {e.name}" for e in named]
        deployments = await self._deployments(named, request.environment)
        if not named and not request.environment:
            raise CannotPlan("the request names nothing to fix: name an application, "
                             "service, deployment or environment", [], [])
        if not deployments:
            await self._no_such_environment(request.environment)
            what = " or ".join(sorted({e.kind for e in named}))
            detail = (f"no {what} it names is deployed{where}" if named
                      else "nothing it names is deployed there")
            elsewhere = await self._deployments(named, None) if request.environment else []
            if elsewhere:
                places = [f"{d.name} is in {await self._environment_of(d.ref)}"
                          for d in elsewhere]
                detail += f" ({', '.join(places)})"
            raise CannotPlan(f"nothing deployed{where} is failing: {detail}", understood, [])
        failing = [d for d in deployments if is_failing(d)]
        if not failing:
            states = ", ".join(f"{d.name} is {d.attrs.get(HEALTH, 'not marked failing')}"
                               for d in deployments)
            raise CannotPlan(f"nothing deployed{where} is failing ({states})", understood, [])
        if len(failing) > 1 and talked_of:
            meant = {d.name for d in await self._deployments(talked_of, request.environment)}
            failing = [d for d in failing if d.name in meant] or failing
        if len(failing) > 1:
            names = ", ".join(d.name for d in failing)
            raise CannotPlan(f"several failing deployments match ({names}): name the one "
                             "to fix", understood, [])
        return failing[0]

    async def _environment_of(self, deployment: EntityRef) -> str | None:
        relations = await self._store.relations(deployment)
        return _other_end(relations, deployment, "runs_in", "environment")

    async def _no_such_environment(self, environment: str | None) -> None:
        """Refuse a request naming an environment the graph does not hold."""
        if environment is None or await self._store.get_entity(
            EntityRef(kind="environment", name=environment)
        ) is not None:
            return
        known = sorted(e.name for e in await self._store.list_entities("environment"))
        raise CannotPlan(f"there is no environment {environment!r} (the graph holds "
                         f"{', '.join(known) or 'none'})", [], [])

    async def _deployments(
        self, named: list[EntityRecord], environment: str | None
    ) -> list[EntityRecord]:
        """The deployments the entities are part of, in the environment if one is named."""
        refs = {e.ref.key: e.ref for e in named}
        for _ in range(2):  # a service leads to its application, then to its deployments
            for ref in list(refs.values()):
                if ref.kind not in _TOWARDS_DEPLOYMENT:
                    continue
                type_, kind = _TOWARDS_DEPLOYMENT[ref.kind]
                for r in await self._store.relations(ref):
                    if r.type == type_ and r.target == ref and r.source.kind == kind:
                        refs.setdefault(r.source.key, r.source)
        found = []
        for ref in sorted((r for r in refs.values() if r.kind == "deployment"),
                          key=lambda r: r.name):
            entity = await self._store.get_entity(ref)
            if entity is None:
                continue
            if environment is None or await self._environment_of(ref) == environment:
                found.append(entity)
        return found

    def _step(self, draft: _Draft, stats: Mapping[str, AgentStats]) -> Step:
        capability = self._registry.capability(draft.capability)
        agent, fallbacks = assign_agents(self._registry, capability.name, stats)
        return Step(
            id=draft.id, capability=capability.name, agent=agent,
            fallbacks=fallbacks, parameters=draft.parameters,
            optional=capability.optional, requires_approval=capability.sensitive,
            compensation=draft.compensation, operates_on=draft.operates_on,
        )


# From the most to the least specific: an environment leads to every deployment
# in it, a deployment to itself.
_SPECIFIC = ("deployment", "application", "service", "policy", "environment")


def _most_specific(entities: list[EntityRecord]) -> list[EntityRecord]:
    """Of the conversation's entities, those of the most specific kind it has:
    after a diagnosis of checkout-production, "fix it" means that deployment, not
    everything deployed to production."""
    for kind in _SPECIFIC:
        chosen = [e for e in entities if e.kind == kind]
        if chosen:
            return chosen
    return []


@dataclass
class _Draft:
    id: str
    capability: str
    parameters: dict[str, object]
    operates_on: list[EntityRef]
    compensation: Compensation | None = None


def _drafts(deployment: str, application: str, environment: str) -> list[_Draft]:
    """The steps in the order of the procedure; their edges come from `_link`."""
    dep = EntityRef(kind="deployment", name=deployment)
    checks = {check: f"diagnose-{check.replace('_', '-')}" for check in CHECKS}
    inspection = "${steps.inspect.output}"
    return [
        _Draft("inspect", INSPECT, {"deployment": deployment}, [dep]),
        *(_Draft(step_id, diagnosis(check), {"deployment": deployment,
                                              "inspection": inspection}, [dep])
          for check, step_id in checks.items()),
        _Draft("fix", FIX, {
            "deployment": deployment,
            "findings": {c: f"${{steps.{i}.output}}" for c, i in checks.items()},
        }, [dep], Compensation(capability="remediation.revert", parameters={
            "deployment": deployment, "owner": "${steps.fix.output.owner}",
            "applied": "${steps.fix.output.applied}",
        })),
        _Draft("redeploy", REDEPLOY, {
            "application": application, "environment": environment,
            "reason": "${steps.fix.output.summary}",
        }, [EntityRef(kind="application", name=application),
            EntityRef(kind="environment", name=environment), dep],
            Compensation(capability="deployment.restore", parameters={
                "application": application, "environment": environment,
                "owner": "${steps.redeploy.output.owner}",
                "previous": "${steps.redeploy.output.previous}",
            })),
    ]


def _link(steps: list[Step], registry: AgentRegistry) -> list[Step]:
    """Each step depends on the earlier steps producing a kind it consumes. Only
    earlier ones: what a step consumes exists before it (the redeploy produces the
    deployment the inspection consumes, and must not come first)."""
    caps: dict[str, Capability] = {s.id: registry.capability(s.capability) for s in steps}
    linked: list[Step] = []
    for i, step in enumerate(steps):
        consumes = set(caps[step.id].consumes)
        deps = [s.id for s in steps[:i] if consumes & set(caps[s.id].produces)]
        linked.append(step.model_copy(update={"depends_on": sorted(deps)}))
    return linked


def _other_end(relations: list[Relation], ref: EntityRef, type_: str, kind: str) -> str | None:
    found = sorted(r.target.name for r in relations
                   if r.source == ref and r.type == type_ and r.target.kind == kind)
    return found[0] if found else None
