"""Saga rollback, planned: which completed steps to undo and in what order.

Pure: runs in workflow code. A step is undone only after every step that
depends on it (directly or not) has been undone or has nothing to undo, so
the world unwinds in reverse dependency order; independent undos run together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from orchestrator.models import Agent, Capability, Step, StepResult, StepStatus
from workflows.dag import ancestors, references, resolve

# Runs recorded before this patch ended (cancelled) when a cancel came during their
# rollback, leaving the rest undone; runs after it finish their rollback.
ROLLBACK_OUTLIVES_CANCEL = "rollback-outlives-cancel"
# Runs after this patch also clean up after steps that started and did not
# complete, when the undo touches only what the step held (`cleans_up`).
CLEAN_UP_UNFINISHED = "clean-up-unfinished-steps"
# Runs after this patch do not move a step that fails for good to its next agent
# once the run is stopping (cancelled, rejected, another step failed): it would
# only start work the rollback then undoes.
NO_FAILOVER_WHILE_STOPPING = "no-failover-while-stopping"
# Runs recorded before this patch ended `rollback_failed` as soon as an undo failed
# for good; runs after it wait, `rollback_incomplete`, for a person to have the
# undos that failed tried again once the cause is fixed (`retry_rollback`).
RETRY_INCOMPLETE_ROLLBACK = "retry-incomplete-rollback"
# Runs after this patch, trying their undos again, try again too those that left
# their entity to a step whose undo has worked since: what they said of it ("step
# X of this run still holds it") is no longer so; tried again, they tell what is left.
RECHECK_WHAT_UNDOS_LEFT = "retry-rechecks-what-undos-left"
# Runs after this patch keep, in an undo tried again, the tries before: each is an
# observation of its agent, counted in its statistics.
UNDO_TRIES_KEPT = "undo-tries-kept-across-retries"


def cleans_up(step: Step, undo: Capability) -> bool:
    """Whether the step's undo may run for it when it did not complete. Only an undo
    told whose work to undo (`owner`, the step's key) lets go of just what that step
    held, which is safe where it wrote nothing; a tool's undo (delete the repository
    named so) is not: it would remove what another made. And it must need nothing
    else of the step's output, which a step that did not complete has not given."""
    if step.compensation is None or "owner" not in undo.input_schema.get("properties", {}):
        return False
    others = {k: v for k, v in step.compensation.parameters.items() if k != "owner"}
    return step.id not in references(others)


def to_undo(steps: Sequence[Step], completed: set[str]) -> list[str]:
    """Completed steps that declare a compensation, in plan order."""
    return [s.id for s in steps if s.id in completed and s.compensation is not None]


def not_undone(compensations: Mapping[str, StepResult]) -> list[str]:
    """Steps whose undo (or clean-up) did not succeed, by id."""
    return sorted(i for i, r in compensations.items() if r.status != StepStatus.COMPLETED)


def passed_to_undone(compensations: Mapping[str, StepResult], workflow_id: str) -> set[str]:
    """Steps whose undo left their entity in place for another step of this run
    (`kept_for`) whose own undo has worked since, letting go of it in turn."""
    undone = {f"{workflow_id}/{i}" for i, r in compensations.items()
              if r.status == StepStatus.COMPLETED}
    return {i for i, r in compensations.items() if r.status == StepStatus.COMPLETED
            and (r.output or {}).get("kept_for") in undone}


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
