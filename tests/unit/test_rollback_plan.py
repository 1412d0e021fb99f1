"""Which steps a rollback may run an undo for, when they did not complete."""

from __future__ import annotations

from typing import Any

from orchestrator.models import Capability, Compensation, Step
from workflows.rollback import cleans_up


def _undo(*params: str) -> Capability:
    return Capability(name="x.undo", description="", input_schema={
        "type": "object", "properties": {p: {"type": "string"} for p in params}})


def _step(parameters: dict[str, Any]) -> Step:
    return Step(id="deploy", capability="x.do", agent="a",
                compensation=Compensation(capability="x.undo", parameters=parameters))


def test_only_an_undo_told_the_steps_key_and_nothing_else_of_its_output_cleans_up() -> None:
    own = "${steps.deploy.output.owner}"
    # A built-in undo: the step's key, and values the step was given.
    assert cleans_up(_step({"name": "shop", "owner": own}), _undo("name", "owner"))
    # It needs more of the step's output, which a step that failed has not given.
    assert not cleans_up(_step({"owner": own, "previous": "${steps.deploy.output.previous}"}),
                         _undo("owner", "previous"))
    # A tool's undo removes by name, whoever made it: never run for a step that failed.
    assert not cleans_up(_step({"name": "shop"}), _undo("name"))
    # Other steps' outputs are there: an undo may take them.
    assert cleans_up(_step({"cluster": "${steps.cluster.output.name}", "owner": own}),
                     _undo("cluster", "owner"))
    assert not cleans_up(Step(id="s", capability="x.do", agent="a"), _undo("owner"))
