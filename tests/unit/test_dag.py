"""Pure DAG helpers: stages, cycles and output references."""

from __future__ import annotations

import pytest

from orchestrator.models import Step
from workflows.dag import PlanProblem, ancestors, references, resolve, stages


def _step(step_id: str, *deps: str) -> Step:
    return Step(id=step_id, capability="application.create", agent="a", depends_on=list(deps))


def test_stages_group_steps_that_can_run_together() -> None:
    steps = [_step("d", "a", "b", "c"), _step("a"), _step("b", "a"), _step("c"),
             _step("e", "d"), _step("f", "d")]
    assert stages(steps) == [["a", "c"], ["b"], ["d"], ["e", "f"]]


def test_stages_reject_a_cycle() -> None:
    with pytest.raises(PlanProblem, match="cycle among steps \\['a', 'b'\\]"):
        stages([_step("a", "b"), _step("b", "a"), _step("c")])


def test_stages_reject_unknown_dependency_and_duplicates() -> None:
    with pytest.raises(PlanProblem, match="step a: depends_on names unknown steps \\['x'\\]"):
        stages([_step("a", "x")])
    with pytest.raises(PlanProblem, match="duplicate step ids: a"):
        stages([_step("a"), _step("a")])


def test_ancestors_are_transitive() -> None:
    steps = [_step("a"), _step("b", "a"), _step("c", "b"), _step("d")]
    assert ancestors(steps, "c") == {"a", "b"}


def test_resolve_whole_and_embedded_references() -> None:
    outputs = {"dep": {"deployment": "shop-prod", "services": ["pay", "cart"], "n": 3}}
    value = {
        "whole": "${steps.dep.output.n}",
        "inner": "url/${steps.dep.output.deployment}/x",
        "listed": ["${steps.dep.output.services.1}"],
        "plain": 7,
    }
    assert references(value) == {"dep"}
    assert resolve(value, outputs) == {
        "whole": 3, "inner": "url/shop-prod/x", "listed": ["cart"], "plain": 7
    }


def test_resolve_names_the_missing_path() -> None:
    with pytest.raises(PlanProblem, match="output of step 'dep' has no 'missing'"):
        resolve("${steps.dep.output.missing}", {"dep": {}})
    with pytest.raises(PlanProblem, match="'ghost', which has no output"):
        resolve("${steps.ghost.output.x}", {})
