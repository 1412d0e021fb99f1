"""The built-in platform agents: applications, services, environments,
deployments and policies, whose world lives in the graph.

Every action is idempotent: an entity is claimed under the key of the step that
makes it ("<workflow id>/<step id>"), so a retried step finds its own entity
instead of making a second one, and an undo removes only what that step made.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from orchestrator.agents.base import AgentResult, StepContext
from orchestrator.agents.faults import Fault
from orchestrator.errors import InvalidInput, TransientFailure
from orchestrator.graph.store import GraphStore, Relation
from orchestrator.models import EntityRef

Handler = Callable[[dict[str, Any], StepContext], Awaitable[AgentResult]]


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
            "policy.apply": self._apply_policy,
            "policy.remove": self._delete(
                "policy", lambda p: _policy_name(p["policy"], p["deployment"])
            ),
        }

    async def run(
        self, capability: str, params: dict[str, Any], ctx: StepContext
    ) -> AgentResult:
        handler = self._handlers.get(capability)
        if handler is None:
            raise InvalidInput(f"no built-in agent handles {capability!r}")
        fault = self._faults.get(capability, Fault())
        if not fault.applies(params, ctx.agent):
            fault = Fault()
        if fault.delay_ms:
            await asyncio.sleep(fault.delay_ms / 1000)
        if fault.fails(ctx.attempt) and not fault.after_write:
            _raise_injected(capability, ctx, fault)
        result = await handler(params, ctx)
        if fault.fails(ctx.attempt):
            _raise_injected(capability, ctx, fault)
        return result

    async def _claim(self, ref: EntityRef, ctx: StepContext) -> dict[str, Any]:
        record = await self._store.claim_entity(ref, ctx.owner, {})
        return {ref.kind: ref.name, "created": record.created_by == ctx.owner,
                "owner": ctx.owner}

    async def _require(self, kind: str, name: str) -> EntityRef:
        ref = _ref(kind, name)
        if await self._store.get_entity(ref) is None:
            raise InvalidInput(f"{kind} {name!r} does not exist")
        return ref

    async def _create_application(self, p: dict[str, Any], ctx: StepContext) -> AgentResult:
        app = _ref("application", p["name"])
        return AgentResult(output=await self._claim(app, ctx), operates_on=[app])

    async def _create_service(self, p: dict[str, Any], ctx: StepContext) -> AgentResult:
        app = await self._require("application", p["application"])
        svc = _ref("service", p["name"])
        output = await self._claim(svc, ctx)
        await self._store.relate([Relation(source=app, type="owns", target=svc)])
        return AgentResult(output={**output, "application": app.name}, operates_on=[app, svc])

    async def _ensure_environment(self, p: dict[str, Any], ctx: StepContext) -> AgentResult:
        env = _ref("environment", p["name"])
        return AgentResult(output=await self._claim(env, ctx), operates_on=[env])

    async def _create_deployment(self, p: dict[str, Any], ctx: StepContext) -> AgentResult:
        app = await self._require("application", p["application"])
        env = await self._require("environment", p["environment"])
        dep = _ref("deployment", _deployment_name(app.name, env.name))
        output = await self._claim(dep, ctx)
        await self._store.relate([
            Relation(source=app, type="deployed_to", target=env),
            Relation(source=dep, type="deploys", target=app),
            Relation(source=dep, type="runs_in", target=env),
        ])
        services = sorted(
            r.target.name for r in await self._store.relations(app)
            if r.type == "owns" and r.source == app
        )
        output |= {"application": app.name, "environment": env.name, "services": services}
        return AgentResult(output=output, operates_on=[app, env, dep])

    async def _apply_policy(self, p: dict[str, Any], ctx: StepContext) -> AgentResult:
        dep = await self._require("deployment", p["deployment"])
        pol = _ref("policy", _policy_name(p["policy"], dep.name))
        output = await self._claim(pol, ctx)
        await self._store.relate([Relation(source=dep, type="has_policy", target=pol)])
        return AgentResult(
            output={**output, "type": p["policy"], "deployment": dep.name},
            operates_on=[dep, pol],
        )

    def _delete(self, kind: str, name_of: Callable[[dict[str, Any]], str]) -> Handler:
        """An undo that removes the entity only if the step being undone made it."""

        async def handler(p: dict[str, Any], ctx: StepContext) -> AgentResult:
            name = name_of(p)
            ref = _ref(kind, name)
            deleted = await self._store.delete_entity(ref, p["owner"])
            return AgentResult(output={kind: name, "deleted": deleted}, operates_on=[])

        return handler

    async def _delete_deployment(self, p: dict[str, Any], ctx: StepContext) -> AgentResult:
        app, env = _ref("application", p["application"]), _ref("environment", p["environment"])
        dep = _ref("deployment", _deployment_name(app.name, env.name))
        deleted = await self._store.delete_entity(dep, p["owner"])
        if deleted:
            await self._store.unrelate([Relation(source=app, type="deployed_to", target=env)])
        return AgentResult(output={"deployment": dep.name, "deleted": deleted})


def _deployment_name(application: str, environment: str) -> str:
    return f"{application}-{environment}"


def _policy_name(policy: str, deployment: str) -> str:
    return f"{policy}-{deployment}"


def _raise_injected(capability: str, ctx: StepContext, fault: Fault) -> None:
    message = f"injected failure in {capability} (attempt {ctx.attempt})"
    if fault.non_retryable:
        raise InvalidInput(message)
    raise TransientFailure(message)
