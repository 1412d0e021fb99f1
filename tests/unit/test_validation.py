"""Plan validation in workflow code: every problem names its step and field."""

from __future__ import annotations

from orchestrator.agents.catalogue import PLATFORM_AGENTS, PLATFORM_CAPABILITIES
from orchestrator.models import Limits, Plan, PlanOutput, Step
from workflows.validation import parameter_problems, validate_plan

CAPS = {c.name: c for c in PLATFORM_CAPABILITIES}
AGENTS = {a.id: a for a in PLATFORM_AGENTS}


def _planned(*steps: Step) -> PlanOutput:
    return PlanOutput(
        plan=Plan(intent="t", request="t", steps=list(steps)), capabilities=CAPS, agents=AGENTS
    )


def _app(step_id: str, name: str = "shop", *deps: str) -> Step:
    return Step(id=step_id, capability="application.create", agent="application-agent",
                parameters={"name": name}, depends_on=list(deps))


def test_valid_plan_has_no_problems() -> None:
    service = Step(
        id="svc", capability="service.create", agent="service-agent",
        parameters={"application": "${steps.app.output.application}", "name": "pay"},
        depends_on=["app"],
    )
    assert validate_plan(_planned(_app("app"), service), Limits()) == []


def test_cycle_is_reported() -> None:
    problems = validate_plan(_planned(_app("a", "x", "b"), _app("b", "y", "a")), Limits())
    assert problems == ["dependency cycle among steps ['a', 'b']"]


def test_unknown_capability_and_wrong_agent_are_reported() -> None:
    ghost = Step(id="g", capability="ghost.create", agent="application-agent")
    wrong = Step(id="w", capability="service.create", agent="application-agent",
                 parameters={"application": "a", "name": "b"})
    assert validate_plan(_planned(ghost, wrong), Limits()) == [
        "step g: unknown capability 'ghost.create'",
        "step w: agent 'application-agent' does not provide service.create",
    ]


def test_schema_violations_name_the_field() -> None:
    problems = validate_plan(_planned(_app("a", "Bad Name; DROP")), Limits())
    assert len(problems) == 1
    assert problems[0].startswith("step a: parameter name: 'Bad Name; DROP' does not match")


def test_reference_outside_dependencies_is_reported() -> None:
    service = Step(
        id="svc", capability="service.create", agent="service-agent",
        parameters={"application": "${steps.app.output.application}", "name": "pay"},
    )
    assert validate_plan(_planned(_app("app"), service), Limits()) == [
        "step svc: refers to the output of 'app', not a dependency"
    ]


def test_budget_limits_steps_and_parallelism() -> None:
    three = [_app(f"a{i}", f"app{i}") for i in range(3)]
    assert validate_plan(_planned(*three), Limits(max_steps=2)) == [
        "the plan has 3 steps; the budget allows 2"
    ]
    assert validate_plan(_planned(*three), Limits(max_parallel=2)) == [
        "the plan runs 3 steps at once; the budget allows 2"
    ]


def test_partial_check_skips_references_until_resolved() -> None:
    schema = CAPS["service.create"].input_schema
    params = {"application": "${steps.app.output.application}", "name": "pay"}
    assert parameter_problems(schema, params) == []
    assert parameter_problems(schema, params, partial=False) != []
    assert parameter_problems(schema, {"name": "pay"}) == [
        "parameter (parameters): 'application' is a required property"
    ]
