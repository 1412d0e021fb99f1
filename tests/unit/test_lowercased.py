"""Names written with capitals are told as the plan uses them."""

from __future__ import annotations

from orchestrator.models import Step
from orchestrator.planning.lowercased import lowercased_names


def _step(**parameters: object) -> Step:
    return Step(id="s", capability="application.create", agent="a", parameters=parameters)


def test_a_name_written_with_capitals_is_told_once() -> None:
    steps = [_step(name="shop"), _step(application="shop", services=["payment"])]
    assert lowercased_names("Create application Shop with Payment service, deploy Shop",
                            steps) == ["'Shop' is named 'shop': names are lowercase",
                                       "'Payment' is named 'payment': names are lowercase"]


def test_words_the_plan_does_not_name_and_names_as_written_are_not_told() -> None:
    # 'Create' is no parameter; 'blog' was written as the plan has it.
    assert lowercased_names("Create application blog", [_step(name="blog")]) == []
    assert lowercased_names("create application X1", [_step(name="${steps.a.output}")]) == []
