"""Worlds made the way runs make them: by the built-in agents' own actions."""

from __future__ import annotations

import pytest

from orchestrator.agents.base import StepContext
from orchestrator.agents.dispatch import CapabilityRouter, builtin_agents
from orchestrator.agents.faults import Fault
from orchestrator.errors import InvalidInput
from orchestrator.graph.store import GraphStore

BROKEN = {"deployment.create": Fault(fail_attempts=1, non_retryable=True)}


def ctx(workflow: str, step: str, attempt: int = 1) -> StepContext:
    return StepContext(workflow_id=workflow, step_id=step, attempt=attempt)


async def deployed(
    store: GraphStore, app: str, env: str, services: tuple[str, ...] = (),
    policies: tuple[str, ...] = (),
) -> None:
    """A run that made the application, its services and environment, and deployed it."""
    agents, wf = builtin_agents(store), f"make-{app}-{env}"
    await agents.run("application.create", {"name": app}, ctx(wf, "app"))
    for name in services:
        await agents.run("service.create", {"application": app, "name": name},
                         ctx(wf, f"svc-{name}"))
    await agents.run("environment.ensure", {"name": env}, ctx(wf, "env"))
    await agents.run("deployment.create", {"application": app, "environment": env},
                     ctx(wf, "deploy"))
    for policy in policies:
        await agents.run("policy.apply", {"deployment": f"{app}-{env}", "policy": policy},
                         ctx(wf, f"policy-{policy}"))


async def failed_redeploy(store: GraphStore, app: str, env: str) -> str:
    """A later run whose deployment step failed for good; its workflow id."""
    wf = f"redeploy-{app}-{env}"
    broken: CapabilityRouter = builtin_agents(store, BROKEN)
    with pytest.raises(InvalidInput, match="injected failure"):
        await broken.run("deployment.create", {"application": app, "environment": env},
                         ctx(wf, "deploy"))
    return wf
