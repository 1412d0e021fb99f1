"""The planning benchmark's data (bench/planning_set.json) is well-formed, and its
scoring tells a right plan from a wrong one. Scores themselves are not asserted."""

from __future__ import annotations

from pathlib import Path

from bench.planning_cases import CATEGORIES, Case, load_set, score
from bench.planning_quality import mcp_hub
from orchestrator.agents.catalogue import PLATFORM_CAPABILITIES
from orchestrator.models import Plan, Step

SET = load_set()


def test_set_has_enough_requests_in_every_category() -> None:
    assert len(SET.requests) >= 40
    assert {c.category for c in SET.requests} == set(CATEGORIES)
    ids = [c.id for c in SET.requests]
    assert len(ids) == len(set(ids))
    for category in CATEGORIES:
        assert any(c.expect == "plan" for c in SET.requests if c.category == category) or (
            category == "refuse"
        )


def _acyclic(case: Case) -> bool:
    waits: dict[str, set[str]] = {k: set() for k in case.steps}
    for waiting, dependency in case.edges:
        waits[waiting].add(dependency)
    for key, step in case.steps.items():
        waits[key] |= {v["from"] for v in step.params.values() if isinstance(v, dict)}
    done: set[str] = set()
    while len(done) < len(waits):
        ready = {k for k, deps in waits.items() if k not in done and deps <= done}
        if not ready:
            return False
        done |= ready
    return True


def test_expected_plans_are_acyclic_and_refer_to_their_own_steps() -> None:
    for case in SET.requests:
        if case.expect == "refuse":
            assert not case.steps and not case.edges, case.id
            continue
        assert case.steps, case.id
        for waiting, dependency in case.edges:
            assert {waiting, dependency} <= set(case.steps), case.id
        for step in case.steps.values():
            for value in step.params.values():
                assert not isinstance(value, dict) or value["from"] in case.steps, case.id
        assert _acyclic(case), case.id


async def test_expected_plans_use_known_capabilities(tmp_path: Path) -> None:
    """Known: the built-in pack, the tools the test servers really list, and those
    the set names as still being built."""
    async with mcp_hub(SET, tmp_path) as hub:
        assert await hub.discover() == {}
        known = {c.name for c in (*PLATFORM_CAPABILITIES, *hub.capabilities)}
    pending = set(SET.pending_capabilities)
    for case in SET.requests:
        for step in case.steps.values():
            assert set(step.capabilities) & (known | pending), (case.id, step.capability)
            if case.category != "troubleshoot":
                assert set(step.capabilities) <= known, (case.id, step.capability)
        for item in case.given:
            call = item.get("failed", item)
            assert "entity" in item or call["capability"] in known, case.id


def _s2_plan(depends: bool) -> Plan:
    return Plan(intent="", request="", steps=[
        Step(id="a", capability="application.create", agent="x", parameters={"name": "shop"}),
        Step(id="b", capability="service.create", agent="x", depends_on=["a"] if depends else [],
             parameters={"application": "${steps.a.output.application}", "name": "payment"}),
    ])


def test_score_compares_structure_not_ids() -> None:
    case = next(c for c in SET.requests if c.id == "s2")
    right = score(case, _s2_plan(depends=True))
    assert right.exact and right.edges_right == right.edges_expected == 1
    unordered = score(case, _s2_plan(depends=False))
    assert not unordered.exact and unordered.edges_right == 0 and not unordered.missing
    wrong_name = _s2_plan(depends=True)
    wrong_name.steps[1].parameters["name"] = "billing"
    missed = score(case, wrong_name)
    assert not missed.exact and missed.missing == ["payment"] and missed.extra == ["b"]
