"""The built-in platform agents: applications, services, environments,
deployments and policies, whose world lives in the graph.

Every action is idempotent: an entity is claimed under the key of the step that
makes it ("<workflow id>/<step id>"), so a retried step finds its own entity
instead of making a second one. A step that finds an entity another made, or
relies on one (a service's application), holds it too, and so with the
relationships it adds: an undo lets go of what its step held, removing only what
nobody else holds (graph/holds.py), so one run's rollback never takes away what
another run relies on.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from orchestrator.agents import health
from orchestrator.agents.base import AgentResult, StepContext
from orchestrator.agents.catalogue import POLICY_NAMES
from orchestrator.agents.faults import Fault, with_fault
from orchestrator.errors import InvalidInput, OrchestratorError
from orchestrator.graph.store import GraphStore, Relation, Released
from orchestrator.models import EntityRef

Handler = Callable[[dict[str, Any], StepContext], Awaitable[AgentResult]]
log = logging.getLogger(__name__)
# Steps whose failure leaves their deployment failing.
DEPLOYING = ("deployment.create", "deployment.redeploy")


def _ref(kind: str, name: str) -> EntityRef:
    return EntityRef(kind=kind, name=name)


class PlatformAgents:
    def __init__(self, store: GraphStore, faults: Mapping[str, Fault] | None = None) -> None:
        self._store = store
        self._faults = dict(faults or {})
        self._handlers: dict[str, Handler] = {
            "application.create": self._create_application,
            "application.delete": self._delete("application", lambda p: p["name"]),
            "service.create": self._create_service,
            "service.delete": self._delete("service", lambda p: p["name"]),
            "environment.ensure": self._ensure_environment,
            "environment.release": self._delete("environment", lambda p: p["name"]),
            "deployment.create": self._create_deployment,
            "deployment.delete": self._delete_deployment,
            "deployment.redeploy": self._redeploy,
            "deployment.restore": self._restore_deployment,
            "policy.apply": self._apply_policy,
            "policy.remove": self._delete(
                "policy", lambda p: policy_name(p["policy"], p["deployment"])
            ),
        }

    async def run(
        self, capability: str, params: dict[str, Any], ctx: StepContext
    ) -> AgentResult:
        handler = self._handlers.get(capability)
        if handler is None:
            raise InvalidInput(f"no built-in agent handles {capability!r}")
        try:
            return await with_fault(
                self._faults, capability, params, ctx, lambda: handler(params, ctx)
            )
        except OrchestratorError as error:
            if capability in DEPLOYING:
                await self._note_failure(capability, params, ctx, error)
            raise

    async def _note_failure(
        self, capability: str, p: dict[str, Any], ctx: StepContext, error: OrchestratorError
    ) -> None:
        """Mark the deployment failing; the step's own error is what the caller gets,
        even if the graph cannot take the mark."""
        ref = health.deployment_ref(p["application"], p["environment"])
        try:
            await health.mark_failing(self._store, ref, capability, ctx, str(error))
        except Exception as err:  # the step's own failure is the one to report
            log.warning("could not mark %s failing: %s", ref.name, err)

    async def _claim(self, ref: EntityRef, ctx: StepContext) -> dict[str, Any]:
        record = await self._store.claim_entity(ref, ctx.owner, {})
        return {ref.kind: ref.name, "created": record.created_by == ctx.owner,
                "owner": ctx.owner}

    async def _require(self, kind: str, name: str, ctx: StepContext) -> EntityRef:
        """The entity, which the step relies on from now on (held: see the module)."""
        ref = _ref(kind, name)
        if await self._store.hold_entity(ref, ctx.owner) is None:
            # A plan counts on what exists when it is made; nothing holds it for the
            # run until a step does, and another run's rollback may take it first.
            raise InvalidInput(f"{kind} {name!r} does not exist (if it did when this run "
                               "was planned, another run removed it since)")
        return ref

    async def _create_application(self, p: dict[str, Any], ctx: StepContext) -> AgentResult:
        app = _ref("application", p["name"])
        return AgentResult(output=await self._claim(app, ctx), operates_on=[app])

    async def _create_service(self, p: dict[str, Any], ctx: StepContext) -> AgentResult:
        app = await self._require("application", p["application"], ctx)
        svc = _ref("service", p["name"])
        output = await self._claim(svc, ctx)
        await self._store.relate([Relation(source=app, type="owns", target=svc)], ctx.owner)
        return AgentResult(output={**output, "application": app.name}, operates_on=[app, svc])

    async def _ensure_environment(self, p: dict[str, Any], ctx: StepContext) -> AgentResult:
        env = _ref("environment", p["name"])
        return AgentResult(output=await self._claim(env, ctx), operates_on=[env])

    async def _create_deployment(self, p: dict[str, Any], ctx: StepContext) -> AgentResult:
        app = await self._require("application", p["application"], ctx)
        env = await self._require("environment", p["environment"], ctx)
        dep = _ref("deployment", _deployment_name(app.name, env.name))
        output = await self._claim(dep, ctx)
        services = await self._deploy(app, env, dep, ctx)
        await health.mark_healthy(self._store, dep, ctx, services)
        output |= {"application": app.name, "environment": env.name, "services": services}
        return AgentResult(output=output, operates_on=[app, env, dep])

    async def _deploy(self, app: EntityRef, env: EntityRef, dep: EntityRef, ctx: StepContext
                      ) -> list[str]:
        """Relate the deployment to what it deploys and where; the services it ships."""
        await self._store.relate([
            Relation(source=app, type="deployed_to", target=env),
            Relation(source=dep, type="deploys", target=app),
            Relation(source=dep, type="runs_in", target=env),
        ], ctx.owner)
        services = sorted(
            r.target.name for r in await self._store.relations(app)
            if r.type == "owns" and r.source == app
        )
        # What it ships it relies on, as the application's: another run's rollback
        # must not take them away.
        for name in services:
            await self._store.hold_entity(_ref("service", name), ctx.owner)
        await self._store.relate(
            [Relation(source=app, type="owns", target=_ref("service", n)) for n in services],
            ctx.owner)
        return services

    async def _redeploy(self, p: dict[str, Any], ctx: StepContext) -> AgentResult:
        """Deploy again what is deployed (with the application's services as they are
        now) and mark it healthy; the health it had is kept for the undo."""
        app = await self._require("application", p["application"], ctx)
        env = await self._require("environment", p["environment"], ctx)
        dep = _ref("deployment", _deployment_name(app.name, env.name))
        before = await self._store.get_entity(dep)
        previous: dict[str, Any] = {}
        if before is not None:
            # A retried attempt finds its own mark: what it replaced was saved with it.
            mine = before.attrs.get("deployed_by") == ctx.owner
            previous = before.attrs.get("redeployed_over", {}) if mine else (
                health.health_of(before))
        output = await self._claim(dep, ctx)
        services = await self._deploy(app, env, dep, ctx)
        await health.mark_healthy(self._store, dep, ctx, services, replaced=previous)
        output |= {"application": app.name, "environment": env.name, "services": services,
                   "previous": previous, "reason": p["reason"]}
        return AgentResult(output=output, operates_on=[app, env, dep])

    async def _restore_deployment(self, p: dict[str, Any], ctx: StepContext) -> AgentResult:
        """Undo a redeploy: remove the deployment if it made it, else put back the
        health it replaced."""
        app, env = _ref("application", p["application"]), _ref("environment", p["environment"])
        dep = _ref("deployment", _deployment_name(app.name, env.name))
        released = await self._store.release_entity(dep, p["owner"])
        if released.deleted:
            return AgentResult(output={"deployment": dep.name, "deleted": True})
        restored = await health.restore_health(self._store, dep, p["previous"])
        return AgentResult(
            output={"deployment": dep.name, "deleted": False,
                    "health": restored.attrs.get(health.HEALTH) if restored else None},
            operates_on=[dep] if restored else [],
        )

    async def _apply_policy(self, p: dict[str, Any], ctx: StepContext) -> AgentResult:
        dep = await self._require("deployment", p["deployment"], ctx)
        pol = _ref("policy", policy_name(p["policy"], dep.name))
        output = await self._claim(pol, ctx)
        await self._store.relate([Relation(source=dep, type="has_policy", target=pol)], ctx.owner)
        return AgentResult(
            output={**output, "type": p["policy"], "deployment": dep.name},
            operates_on=[dep, pol],
        )

    def _delete(self, kind: str, name_of: Callable[[dict[str, Any]], str]) -> Handler:
        """An undo that lets go of all the step being undone held: the entity it
        made (removed if nobody else holds it), those it relied on, the
        relationships it added."""

        async def handler(p: dict[str, Any], ctx: StepContext) -> AgentResult:
            name = name_of(p)
            released = await self._store.release_entity(_ref(kind, name), p["owner"])
            return AgentResult(output={kind: name, **_told(released)}, operates_on=[])

        return handler

    async def _delete_deployment(self, p: dict[str, Any], ctx: StepContext) -> AgentResult:
        app, env = _ref("application", p["application"]), _ref("environment", p["environment"])
        dep = _ref("deployment", _deployment_name(app.name, env.name))
        released = await self._store.release_entity(dep, p["owner"])
        return AgentResult(output={"deployment": dep.name, **_told(released)})


def _told(released: Released) -> dict[str, Any]:
    """An undo's output: whether it removed the entity, or who still relies on it."""
    told: dict[str, Any] = {"deleted": released.deleted}
    if released.kept_for:
        told["kept_for"] = released.kept_for
    if released.absent:
        told["absent"] = True
    return told


def _deployment_name(application: str, environment: str) -> str:
    return f"{application}-{environment}"


def policy_name(policy: str, deployment: str) -> str:
    return POLICY_NAMES.format(policy=policy, deployment=deployment)

