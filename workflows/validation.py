"""Checks a plan must pass before anything runs. Pure: runs in workflow code."""

from __future__ import annotations

import functools
import json
from typing import Any

from jsonschema import Draft202012Validator

from orchestrator.models import Limits, PlanOutput
from workflows.dag import PlanProblem, ancestors, references, stages


def validate_plan(planned: PlanOutput, limits: Limits) -> list[str]:
    """Every problem found, each naming the step and field; empty when runnable."""
    steps = planned.plan.steps
    if not steps:
        return ["the plan has no steps"]
    if len(steps) > limits.max_steps:
        return [f"the plan has {len(steps)} steps; the budget allows {limits.max_steps}"]
    try:
        order = stages(steps)
    except PlanProblem as problem:
        return [str(problem)]
    widest = max(len(stage) for stage in order)
    problems: list[str] = []
    if widest > limits.max_parallel:
        problems.append(
            f"the plan runs {widest} steps at once; the budget allows {limits.max_parallel}"
        )
    for step in steps:
        where = f"step {step.id}"
        capability = planned.capabilities.get(step.capability)
        if capability is None:
            problems.append(f"{where}: unknown capability {step.capability!r}")
            continue
        for agent_id in (step.agent, *step.fallbacks):
            agent = planned.agents.get(agent_id)
            if agent is None or step.capability not in agent.capabilities:
                problems.append(f"{where}: agent {agent_id!r} does not provide {step.capability}")
        upstream = ancestors(steps, step.id)
        for ref in sorted(references(step.parameters) - upstream):
            problems.append(f"{where}: refers to the output of {ref!r}, not a dependency")
        problems += [
            f"{where}: {p}" for p in parameter_problems(capability.input_schema, step.parameters)
        ]
    return problems


@functools.lru_cache(maxsize=512)
def _validator(schema: str) -> Draft202012Validator:
    """Validators by schema text: building one costs more than using it, and the
    same few schemas come back in every run. Pure, so safe in workflow code."""
    return Draft202012Validator(json.loads(schema))


def parameter_problems(
    schema: dict[str, Any], params: dict[str, Any], partial: bool = True
) -> list[str]:
    """Schema violations, each naming its field.

    With `partial`, parameters that are still references are left out (and not
    counted missing): they are checked again once resolved.
    """
    if partial:
        pending = {k for k, v in params.items() if references(v)}
        params = {k: v for k, v in params.items() if k not in pending}
        required = [r for r in schema.get("required", []) if r not in pending]
        schema = {**schema, "required": required}
    found = []
    for error in _validator(json.dumps(schema, sort_keys=True)).iter_errors(params):
        field = ".".join(str(p) for p in error.absolute_path) or "(parameters)"
        found.append(f"parameter {field}: {error.message}")
    return sorted(found)
