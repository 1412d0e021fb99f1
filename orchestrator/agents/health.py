"""A deployment's health, as the deployment agent records it on the entity.

The graph can say a deployment is failing because the agent that acts on it
says so: when a deployment step fails, the deployment (if it exists, whoever
made it) is marked failing with the step and the error; when one succeeds, it
is marked healthy with what it deployed. A run that fails is rolled back, but
a failed step has nothing to undo, so the mark stays until a deployment step
succeeds: exactly as long as the deployment really is in doubt.
"""

from __future__ import annotations

from typing import Any

from orchestrator.agents.base import StepContext
from orchestrator.graph.references import FAILING as FAILING
from orchestrator.graph.references import HEALTH as HEALTH
from orchestrator.graph.store import EntityRecord, GraphStore
from orchestrator.models import EntityRef

# HEALTH and FAILING are the graph's: references resolve "failing" by them.
HEALTHY = "healthy"
# The attributes a failure sets and a success clears.
FAILURE_KEYS = ("error", "failed_capability", "failed_run", "failed_step", "failed_attempt")
# Every attribute of health: what a redeploy saves and its undo puts back.
HEALTH_KEYS = (HEALTH, "deployed_by", "services", *FAILURE_KEYS)


def deployment_ref(application: str, environment: str) -> EntityRef:
    return EntityRef(kind="deployment", name=f"{application}-{environment}")


def is_failing(entity: EntityRecord | None) -> bool:
    return entity is not None and entity.attrs.get(HEALTH) == FAILING


def health_of(entity: EntityRecord) -> dict[str, Any]:
    """The health attributes the entity has (none on a deployment never marked)."""
    return {k: entity.attrs[k] for k in HEALTH_KEYS if k in entity.attrs}


async def mark_failing(
    store: GraphStore, ref: EntityRef, capability: str, ctx: StepContext, error: str
) -> EntityRecord | None:
    """Record that a step on the deployment failed; nothing if it does not exist."""
    return await store.update_entity_attrs(ref, {
        HEALTH: FAILING, "error": error[:500], "failed_capability": capability,
        "failed_run": ctx.workflow_id, "failed_step": ctx.step_id,
        "failed_attempt": ctx.attempt,
    })


async def mark_healthy(
    store: GraphStore, ref: EntityRef, ctx: StepContext, services: list[str],
    replaced: dict[str, Any] | None = None,
) -> EntityRecord | None:
    """Record a deployment step that succeeded; `replaced`: the health it replaced,
    kept when a redeploy may have to put it back."""
    return await store.update_entity_attrs(ref, {
        HEALTH: HEALTHY, "deployed_by": ctx.owner, "services": services,
        "redeployed_over": replaced, **dict.fromkeys(FAILURE_KEYS),
    })


async def restore_health(
    store: GraphStore, ref: EntityRef, previous: dict[str, Any]
) -> EntityRecord | None:
    """Put back the health attributes saved before a step changed them."""
    changes: dict[str, Any] = dict.fromkeys(HEALTH_KEYS)
    changes.update({k: v for k, v in previous.items() if k in HEALTH_KEYS})
    return await store.update_entity_attrs(ref, changes)
