"""Saga rollback, planned: which completed steps to undo and in what order.

Pure: runs in workflow code. A step is undone only after every step that
depends on it (directly or not) has been undone or has nothing to undo, so
the world unwinds in reverse dependency order; independent undos run together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from orchestrator.models import Agent, Step
from workflows.dag import ancestors, resolve

# Runs recorded before this patch ended (cancelled) when a cancel came during their
# rollback, leaving the rest undone; runs after it finish their rollback.
ROLLBACK_OUTLIVES_CANCEL = "rollback-outlives-cancel"


def to_undo(steps: Sequence[Step], completed: set[str]) -> list[str]:
    """Completed steps that declare a compensation, in plan order."""
    return [s.id for s in steps if s.id in completed and s.compensation is not None]


def ready(steps: Sequence[Step], waiting: set[str]) -> list[str]:
    """Steps among `waiting` with no waiting step that depends on them."""
    blocked = {a for w in waiting for a in ancestors(steps, w)}
    return sorted(waiting - blocked)


def undo_step(
    step: Step, outputs: Mapping[str, dict[str, Any]], agents: Mapping[str, Agent],
    ran_on: str | None = None,
) -> Step:
    """The compensating step of a completed step, its parameters resolved. It
    keeps the step's id: the activity is told it runs an undo."""
    assert step.compensation is not None
    capability = step.compensation.capability
    providers = sorted(i for i, a in agents.items() if capability in a.capabilities)
    if not providers:
        raise LookupError(f"no agent in the plan provides {capability}")
    # The agent that did the work undoes it, when it can.
    if ran_on in providers:
        providers.insert(0, ran_on)
    return Step(
        id=step.id, capability=capability, agent=providers[0],
        parameters=resolve(step.compensation.parameters, outputs),
    )
