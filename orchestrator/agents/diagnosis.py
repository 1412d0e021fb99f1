"""The diagnosis agents: read-only checks of a deployment over what the graph holds.

Where a step's context comes from, and why: the results of the steps it depends
on arrive with its input (the workflow resolves `${steps.<id>.output}` into its
parameters), never from the graph. Steps mirror their finish write-behind, so a
dependency that just finished may not be in the graph yet, and reading it there
would race. The graph supplies what no step of this run wrote: the entities and
their relationships (written by the agents before their steps completed) and
earlier runs' history (written by those runs' final mirrors before they
ended). The current run's own steps are left out of that history, so a finding
does not depend on how far the mirror got.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from orchestrator.agents import findings
from orchestrator.agents.base import AgentResult, StepContext
from orchestrator.agents.faults import Fault, with_fault
from orchestrator.agents.health import HEALTH, health_of
from orchestrator.agents.troubleshooting import INSPECT, diagnosis
from orchestrator.errors import InvalidInput
from orchestrator.graph.store import EntityRecord, GraphStore, Relation
from orchestrator.models import EntityRef

Check = Callable[[dict[str, Any], StepContext], Awaitable[findings.Finding]]


def _ref(kind: str, name: str) -> EntityRef:
    return EntityRef(kind=kind, name=name)


def _linked(relations: list[Relation], source: EntityRef, type_: str, kind: str) -> list[str]:
    return sorted(r.target.name for r in relations
                  if r.source == source and r.type == type_ and r.target.kind == kind)


class DiagnosisAgents:
    def __init__(self, store: GraphStore, faults: Mapping[str, Fault] | None = None) -> None:
        self._store = store
        self._faults = dict(faults or {})
        self._checks: dict[str, Check] = {
            diagnosis("deployment_logs"): self._deployment_logs,
            diagnosis("service_health"): self._service_health,
            diagnosis("policy_compliance"): self._policy_compliance,
            diagnosis("environment_resources"): self._environment_resources,
        }

    @property
    def capabilities(self) -> list[str]:
        return [INSPECT, *self._checks]

    async def run(
        self, capability: str, params: dict[str, Any], ctx: StepContext
    ) -> AgentResult:
        if capability == INSPECT:
            return await with_fault(self._faults, capability, params, ctx,
                                    lambda: self._inspect(params, ctx))
        check = self._checks.get(capability)
        if check is None:
            raise InvalidInput(f"no diagnosis agent handles {capability!r}")
        return await with_fault(self._faults, capability, params, ctx,
                                lambda: self._diagnose(check, params, ctx))

    async def _deployment(self, name: str) -> EntityRecord:
        found = await self._store.get_entity(_ref("deployment", name))
        if found is None:
            raise InvalidInput(f"deployment {name!r} does not exist")
        return found

    async def _inspect(self, p: dict[str, Any], ctx: StepContext) -> AgentResult:
        """The deployment with its neighbours: what every diagnosis starts from."""
        dep = await self._deployment(p["deployment"])
        relations = await self._store.relations(dep.ref)
        app = next(iter(_linked(relations, dep.ref, "deploys", "application")), None)
        env = next(iter(_linked(relations, dep.ref, "runs_in", "environment")), None)
        owned = []
        if app is not None:
            app_ref = _ref("application", app)
            owned = _linked(await self._store.relations(app_ref), app_ref, "owns", "service")
        output = {
            "step": ctx.step_id, "deployment": dep.name, "application": app,
            "environment": env, "health": dep.attrs.get(HEALTH, "unknown"),
            "attributes": health_of(dep), "services": owned,
            "policies": _linked(relations, dep.ref, "has_policy", "policy"),
        }
        touched = [dep.ref, *(_ref(k, n) for k, n in (("application", app),
                                                      ("environment", env)) if n)]
        return AgentResult(output=output, operates_on=touched)

    async def _diagnose(self, check: Check, p: dict[str, Any], ctx: StepContext
                        ) -> AgentResult:
        inspection = p["inspection"]
        if inspection.get("deployment") != p["deployment"]:
            raise InvalidInput(f"parameter inspection: it is of deployment "
                               f"{inspection.get('deployment')!r}, not {p['deployment']!r}")
        finding = await check(p, ctx)
        finding.received = {"inspection": {
            k: inspection.get(k) for k in ("step", "deployment", "application",
                                           "environment", "health")
        }}
        finding.entities = sorted(set(finding.entities))
        # It operates on the deployment and what it deploys where; the neighbours it
        # only read (other deployments, services) are named in the finding.
        involved = [_ref(kind, name) for kind, name in (
            ("application", inspection.get("application")), ("deployment", p["deployment"]),
            ("environment", inspection.get("environment"))) if name]
        return AgentResult(output=finding.model_dump(mode="json"), operates_on=involved)

    async def _deployment_logs(self, p: dict[str, Any], ctx: StepContext
                               ) -> findings.Finding:
        dep = await self._deployment(p["deployment"])
        attrs = health_of(dep)
        impact = await self._store.impact(dep.ref, depth=1)
        history = [s.model_dump() for s in impact.steps if s.workflow_id != ctx.workflow_id]
        run_status, dependencies = None, {}
        failed_run, failed_step = attrs.get("failed_run"), attrs.get("failed_step")
        if isinstance(failed_run, str) and isinstance(failed_step, str):
            run_status = (await self._store.run_graph(failed_run)).status
            context = await self._store.step_context(failed_run, failed_step)
            dependencies = {i: o.status for i, o in sorted(context.dependencies.items())}
        finding = findings.deployment_logs(dep.name, attrs, run_status, dependencies, history)
        finding.entities = [dep.ref.key]
        return finding

    async def _service_health(self, p: dict[str, Any], ctx: StepContext) -> findings.Finding:
        dep = await self._deployment(p["deployment"])
        app = p["inspection"].get("application")
        owned: list[str] = []
        exists = False
        read = [dep.ref.key]
        if app is not None:
            app_ref = _ref("application", app)
            exists = await self._store.get_entity(app_ref) is not None
            owned = _linked(await self._store.relations(app_ref), app_ref, "owns", "service")
            # A service related but gone is not one the application owns.
            owned = [s for s in owned
                     if await self._store.get_entity(_ref("service", s)) is not None]
            read += [app_ref.key, *(f"service:{s}" for s in owned)]
        deployed = dep.attrs.get("services")
        finding = findings.service_health(
            dep.name, app, exists, owned, deployed if isinstance(deployed, list) else None
        )
        finding.entities = read
        return finding

    async def _policy_compliance(self, p: dict[str, Any], ctx: StepContext
                                 ) -> findings.Finding:
        dep = await self._deployment(p["deployment"])
        names = _linked(await self._store.relations(dep.ref), dep.ref, "has_policy", "policy")
        attached = sorted(n.removesuffix(f"-{dep.name}") for n in names)
        finding = findings.policy_compliance(dep.name, p["inspection"].get("environment"),
                                             attached)
        finding.entities = [dep.ref.key, *(f"policy:{n}" for n in names)]
        return finding

    async def _environment_resources(self, p: dict[str, Any], ctx: StepContext
                                     ) -> findings.Finding:
        dep = await self._deployment(p["deployment"])
        env = p["inspection"].get("environment")
        exists, neighbours, read = False, {}, [dep.ref.key]
        if env is not None:
            env_ref = _ref("environment", env)
            exists = await self._store.get_entity(env_ref) is not None
            running = sorted(r.source.name for r in await self._store.relations(env_ref)
                             if r.type == "runs_in" and r.target == env_ref
                             and r.source.kind == "deployment")
            for name in running:
                other = await self._store.get_entity(_ref("deployment", name))
                neighbours[name] = other.attrs.get(HEALTH, "unknown") if other else "gone"
            read += [env_ref.key, *(f"deployment:{n}" for n in running)]
        finding = findings.environment_resources(dep.name, env, exists, neighbours)
        finding.entities = read
        return finding
