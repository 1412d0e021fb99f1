"""Adding a follow-up's steps to a running plan. Pure: runs in workflow code.

The follow-up was planned on its own, so it may repeat what the run already does
(the synthesiser inserts a producer for an application the run has not made yet)
and it names by value what the run's own steps make. Merging folds both back into
the run: a repeated step is the run's step, a name the run makes comes from the
output of the step that makes it, and that step becomes a dependency.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from orchestrator.models import STEP_REFERENCE as REFERENCE
from orchestrator.models import Capability, Compensation, EntityRef, PlanOutput, Step
from workflows.dag import PlanProblem

MAX_ID = 63
# Patch id: runs extended before added steps waited for the run's makers replay
# without it.
WAIT_FOR_MAKERS = "followup-waits-for-makers"
# Patch id: runs extended before the run's steps yet to start waited for added
# makers replay without it.
PENDING_WAIT_FOR_ADDED = "followup-pending-steps-wait-for-added-makers"
# Patch id: follow-ups refused over the budget before the plan refused came with
# the reasons replay without it.
REFUSED_PLAN_TOLD = "followup-refused-plan-told"


def merge(
    current: PlanOutput, followup: PlanOutput, wait_for_makers: bool = True,
    not_started: Collection[str] = (),
) -> tuple[PlanOutput, list[Step]]:
    """The run's plan with the follow-up's new steps added, and those steps.

    `wait_for_makers`: an added step also waits for the run's steps making what it
    consumes without naming it (a deployment waits for its application's
    services), as synthesis orders steps within one plan. Off only to replay runs
    extended before it was. The other way round, the run's steps in `not_started`
    wait for added steps making what they consume so (a deployment yet to start
    waits for a service the follow-up adds, and ships it)."""
    capabilities = {**current.capabilities, **followup.capabilities}
    makers: dict[tuple[str, str], str] = {}
    for step in current.plan.steps:
        made = _made(step, capabilities)
        if made is not None:
            makers.setdefault((step.capability, made.key), step.id)
    by_entity = {key: step_id for (_, key), step_id in makers.items()}
    taken = {s.id for s in current.plan.steps}
    renamed: dict[str, str] = {}
    kept: list[Step] = []
    for step in followup.plan.steps:
        made = _made(step, capabilities)
        same = makers.get((step.capability, made.key)) if made else None
        if same is not None:  # the run already makes this: the follow-up uses it
            renamed[step.id] = same
            continue
        renamed[step.id] = _unique(step.id, taken)
        taken.add(renamed[step.id])
        kept.append(step)
    added = [_rewired(s, renamed, by_entity) for s in kept]
    if wait_for_makers:
        added = [_after_makers(s, current.plan.steps, capabilities) for s in added]
    steps = [
        _after_makers(s, added, capabilities) if s.id in not_started else s
        for s in current.plan.steps
    ]
    plan = current.plan.model_copy(update={
        "steps": [*steps, *added],
        "intent": f"{current.plan.intent}; {followup.plan.intent}" if added
        else current.plan.intent,
    })
    merged = current.model_copy(update={
        "plan": plan, "capabilities": capabilities,
        "agents": {**current.agents, **followup.agents},
    })
    return merged, added


def made_by(planned: PlanOutput) -> list[EntityRef]:
    """The entities the plan's steps make."""
    made = (_made(s, planned.capabilities) for s in planned.plan.steps)
    return [e for e in made if e is not None]


def _made(step: Step, capabilities: dict[str, Capability]) -> EntityRef | None:
    """The entity a step makes: the one of a kind its capability produces."""
    capability = capabilities.get(step.capability)
    if capability is None:
        raise PlanProblem(f"step {step.id}: unknown capability {step.capability!r}")
    return next((e for e in step.operates_on if e.kind in capability.produces), None)


def _after_makers(step: Step, run: list[Step], capabilities: dict[str, Capability]) -> Step:
    """`step`, also waiting for the steps of `run` that make what it consumes without
    naming it, in its context; not for one that waits for it (a cycle)."""
    capability = capabilities[step.capability]
    unnamed = set(capability.consumes) - set(step.parameters)
    made = _made(step, capabilities)
    context = {e.key for e in step.operates_on if e != made}
    makers = set()
    for other in run:
        other_made = _made(other, capabilities)
        if other_made is not None and other_made.kind in unnamed and (
            {e.key for e in other.operates_on if e != other_made} & context
        ):
            makers.add(other.id)
    makers -= _waiting_for(step.id, run)
    if makers <= set(step.depends_on):
        return step
    return step.model_copy(update={"depends_on": sorted({*step.depends_on, *makers})})


def _waiting_for(step_id: str, steps: list[Step]) -> set[str]:
    """The steps among `steps` that wait for `step_id`, directly or through others."""
    waiting: set[str] = set()
    grew = True
    while grew:
        grew = False
        for s in steps:
            if s.id not in waiting and ({step_id} | waiting) & set(s.depends_on):
                waiting.add(s.id)
                grew = True
    return waiting


def _rewired(step: Step, renamed: dict[str, str], by_entity: dict[str, str]) -> Step:
    unknown = sorted(set(step.depends_on) - set(renamed))
    if unknown:
        raise PlanProblem(f"step {step.id}: depends_on names unknown steps {unknown}")
    depends_on = {renamed[d] for d in step.depends_on}
    params = _renamed_refs(step.parameters, renamed)
    for name, value in sorted(params.items()):
        maker = by_entity.get(f"{name}:{value}") if isinstance(value, str) else None
        if maker is not None:
            # A name the run makes: taken from the maker's output, after it.
            params[name] = f"${{steps.{maker}.output.{name}}}"
            depends_on.add(maker)
    compensation = None
    if step.compensation is not None:
        undo = _renamed_refs(step.compensation.parameters, renamed)
        undo |= {k: params[k] for k in undo if k in params}
        compensation = Compensation(capability=step.compensation.capability, parameters=undo)
    return step.model_copy(update={
        "id": renamed[step.id], "parameters": params, "depends_on": sorted(depends_on),
        "compensation": compensation,
    })


def _renamed_refs(params: dict[str, Any], renamed: dict[str, str]) -> dict[str, Any]:
    def rename(value: Any) -> Any:
        if isinstance(value, str):
            return REFERENCE.sub(
                lambda m: f"${{steps.{renamed.get(m.group(1), m.group(1))}.output{m.group(2)}}}",
                value,
            )
        if isinstance(value, dict):
            return {k: rename(v) for k, v in value.items()}
        if isinstance(value, list):
            return [rename(v) for v in value]
        return value

    return {k: rename(v) for k, v in params.items()}


def _unique(base: str, taken: set[str]) -> str:
    candidate, n = base, 2
    while candidate in taken:
        suffix = f"-{n}"
        candidate, n = base[: MAX_ID - len(suffix)] + suffix, n + 1
    return candidate
