"""The planning set (bench/planning_set.json) and how a plan is scored against it.

Plans are compared by structure, never by step ids: an expected step matches a
planned step with the same capability whose parameters agree, where a parameter
that refers to an earlier step's output (`${steps.<id>.output...}`) agrees with
an expected `{"from": <step>}` only when that earlier step is the one matched to
it. Edges then compare as pairs of matched steps.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from orchestrator.models import Plan, Step
from workflows.dag import references

SET_PATH = Path(__file__).with_name("planning_set.json")
CATEGORIES = ("s1", "s2", "reworded", "existing", "refuse", "mcp", "troubleshoot")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ExpectedStep(_Strict):
    # Several names when any of them would do (a capability still being named).
    capability: str | list[str]
    # Only the parameters listed are compared: a literal, or {"from": <expected step>}.
    params: dict[str, Any] = {}

    @property
    def capabilities(self) -> list[str]:
        return [self.capability] if isinstance(self.capability, str) else self.capability


class Case(_Strict):
    id: str
    category: str
    request: str
    # Made before planning: {"capability", "params"} run by the built-in agents,
    # {"entity": {kind, name}} claimed as is, or {"failed": {"capability", "params"}}
    # run with a fault injected, so that it fails as a real step would.
    given: list[dict[str, Any]] = []
    expect: Literal["plan", "refuse"]
    steps: dict[str, ExpectedStep] = {}
    # [step, the step it waits for]
    edges: list[tuple[str, str]] = []


class PlanningSet(_Strict):
    about: str
    mcp_servers: dict[str, dict[str, Any]]
    # Capabilities of parts still being built; plans may name them before they exist.
    pending_capabilities: list[str]
    requests: list[Case]


def load_set(path: Path = SET_PATH) -> PlanningSet:
    return PlanningSet.model_validate(json.loads(path.read_text()))


@dataclass
class Score:
    exact: bool
    # Edges as (step, dependency): matched ones, planned, expected.
    edges_right: int
    edges_planned: int
    edges_expected: int
    missing: list[str]
    extra: list[str]


def score(case: Case, plan: Plan) -> Score:
    matched = match_steps(case, plan.steps)
    by_id = {planned: expected for expected, planned in matched.items()}
    planned_edges = {
        (by_id.get(s.id, f"?{s.id}"), by_id.get(d, f"?{d}"))
        for s in plan.steps for d in s.depends_on
    }
    expected_edges = set(case.edges)
    missing = sorted(set(case.steps) - set(matched))
    extra = sorted(s.id for s in plan.steps if s.id not in by_id)
    return Score(
        exact=not missing and not extra and planned_edges == expected_edges,
        edges_right=len(planned_edges & expected_edges),
        edges_planned=len(planned_edges),
        edges_expected=len(expected_edges),
        missing=missing,
        extra=extra,
    )


def match_steps(case: Case, steps: list[Step]) -> dict[str, str]:
    """Expected step -> planned step id. Expected steps are taken producers first, so
    a `{"from": ...}` parameter can be checked against the match already made."""
    matched: dict[str, str] = {}
    by_id = {s.id: s for s in steps}
    for key in _producers_first(case):
        want = case.steps[key]
        for step in steps:
            if step.id in matched.values() or step.capability not in want.capabilities:
                continue
            if all(_agrees(p, v, step.parameters.get(p), matched, by_id)
                   for p, v in want.params.items()):
                matched[key] = step.id
                break
    return matched


def _agrees(
    param: str, want: Any, got: Any, matched: dict[str, str], by_id: dict[str, Step]
) -> bool:
    refs = references(got)
    if isinstance(want, dict):  # {"from": <expected step>}
        return len(refs) == 1 and matched.get(want["from"]) in refs
    if refs and len(refs) == 1:
        # A literal the user named, given as the output of the step that makes it.
        producer = by_id.get(next(iter(refs)))
        return producer is not None and want in (
            producer.parameters.get("name"), producer.parameters.get(param),
            *(e.name for e in producer.operates_on if e.kind == param),
        )
    return bool(want == got)


def _producers_first(case: Case) -> list[str]:
    order: list[str] = []

    def visit(key: str, path: tuple[str, ...]) -> None:
        if key in order:
            return
        if key in path:
            raise ValueError(f"{case.id}: parameters of {key} refer to it in a cycle")
        for value in case.steps[key].params.values():
            if isinstance(value, dict):
                visit(value["from"], (*path, key))
        order.append(key)

    for key in case.steps:
        visit(key, ())
    return order
