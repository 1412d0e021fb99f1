"""Which read-only steps the plan marks to run as local activities: only on agents
the graph saw run them quickly, often enough, and never a step that changes
anything, whatever a planner wrote."""

from __future__ import annotations

from orchestrator.models import AgentStats, Capability, Plan, PlanOutput, Step
from orchestrator.planning.quick import QUICK_AFTER_RUNS, QUICK_MS, mark_quick, reads

READ = Capability(name="mcp.cloud.get_cluster", description="Show one cluster.",
                  input_schema={"type": "object"}, read_only=True)
WRITE = Capability(name="mcp.cloud.deploy", description="Deploy.",
                   input_schema={"type": "object"})


def _planned(*steps: Step) -> PlanOutput:
    return PlanOutput(plan=Plan(intent="t", request="t", steps=list(steps)),
                      capabilities={c.name: c for c in (READ, WRITE)}, agents={})


def _seen(ms: float, runs: int = QUICK_AFTER_RUNS) -> AgentStats:
    stats = AgentStats()
    stats.count(runs, runs, int(ms * runs))
    return stats


def _read(**fields: object) -> Step:
    return Step(id="get", capability=READ.name, agent="east", fallbacks=["west"],
                **fields)


def test_a_read_only_step_is_quick_on_the_agents_seen_quick() -> None:
    stats = {"east/mcp.cloud.get_cluster": _seen(2.0),
             "west/mcp.cloud.get_cluster": _seen(QUICK_MS * 4)}
    (step,) = mark_quick(_planned(_read()), stats).plan.steps
    assert step.quick_agents == ["east"]


def test_an_agent_seen_too_few_times_or_not_at_all_is_not_quick() -> None:
    stats = {"east/mcp.cloud.get_cluster": _seen(2.0, runs=QUICK_AFTER_RUNS - 1)}
    (step,) = mark_quick(_planned(_read()), stats).plan.steps
    assert step.quick_agents == []


def test_a_step_that_changes_something_is_never_quick_whatever_the_planner_wrote() -> None:
    written = Step(id="deploy", capability=WRITE.name, agent="east", quick_agents=["east"])
    stats = {"east/mcp.cloud.deploy": _seen(1.0)}
    planned = _planned(written, _read(quick_agents=["west"]))
    assert not reads(_planned(written)) and reads(planned)
    steps = mark_quick(planned, stats).plan.steps
    assert [s.quick_agents for s in steps] == [[], []]
