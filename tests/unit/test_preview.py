"""A dry run's predicted success: from the defaults, moved by what was observed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from orchestrator.models import AgentStats, AgentTry, Plan, Step, StepResult, StepStatus
from workflows.outcomes import stage_overhead_ms
from workflows.preview import DEFAULT_SUCCESS, preview, success_rate

STEPS = [Step(id=f"s{i}", capability="application.create", agent="platform",
              parameters={"name": f"a{i}"}) for i in range(6)]
PLAN = Plan(intent="six", request="six", steps=STEPS)
KEY = "platform/application.create"


def _predicted(runs: int, successes: int) -> float:
    stats = {KEY: AgentStats(runs=runs, successes=successes, total_ms=runs * 10)}
    return preview(PLAN, stats if runs else {}).predicted_success


def test_successes_never_predict_worse_than_no_history() -> None:
    none = _predicted(0, 0)
    assert abs(none - DEFAULT_SUCCESS**6) < 1e-3
    seen = [_predicted(n, n) for n in (1, 2, 5, 20, 100)]
    assert none <= seen[0] and seen == sorted(seen)
    assert seen[-1] > 0.9


def test_failures_lower_it_by_how_often_they_came() -> None:
    assert _predicted(10, 5) < _predicted(10, 9) < _predicted(10, 10)
    assert abs(success_rate(AgentStats(runs=1000, successes=500)) - 0.5) < 0.01


def test_durations_come_from_recent_runs_not_a_slow_spell_long_ago() -> None:
    # 100 runs, one of which waited 90 s on an outage: the mean is 910 ms a step,
    # the recent duration 12 ms. Six steps one after another.
    chain = Plan(intent="chain", request="chain", steps=[
        step.model_copy(update={"depends_on": [f"s{i - 1}"] if i else []})
        for i, step in enumerate(STEPS)])
    stats = {KEY: AgentStats(runs=100, successes=100, total_ms=91_000, recent_ms=12.4)}
    assert preview(chain, stats).predicted_duration_ms == 6 * 12
    # Statistics kept before the recent duration was: the mean, as before.
    older = {KEY: AgentStats(runs=100, successes=100, total_ms=91_000)}
    assert preview(chain, older).predicted_duration_ms == 6 * 910


def test_orchestration_is_added_a_stage_from_what_recent_runs_took() -> None:
    # Six independent steps: one stage of 12 ms, and 30 ms of orchestration.
    stats = {KEY: AgentStats(runs=100, successes=100, total_ms=1_200, recent_ms=12)}
    shown = preview(PLAN, stats, stage_overhead_ms=30.4)
    assert shown.predicted_duration_ms == 12 + 30
    assert "plus 30 ms of orchestration a stage" in shown.basis
    assert preview(PLAN, stats).predicted_duration_ms == 12


def test_a_completed_runs_time_beyond_its_agents_is_measured_per_stage() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    chain = [Step(id="a", capability="c", agent="x"),
             Step(id="b", capability="c", agent="x", depends_on=["a"])]
    results = {i: StepResult(step_id=i, status=StepStatus.COMPLETED,
                             tries=[AgentTry(agent="x", ok=True, attempts=1, duration_ms=20)])
               for i in ("a", "b")}
    plan = Plan(intent="i", request="r", steps=chain)
    # 100 ms in all, 40 of them the agents': 60 over 2 stages.
    assert stage_overhead_ms(plan, results, start, start + timedelta(milliseconds=100)) == 30
    assert stage_overhead_ms(None, results, start, start) is None
    # A step tried again (a backoff, a dead worker's timeout) is not orchestration.
    results["b"].tries[0].attempts = 2
    assert stage_overhead_ms(plan, results, start, start + timedelta(seconds=9)) is None
    results["b"].tries = [AgentTry(agent="y", ok=False, attempts=1, duration_ms=5),
                          AgentTry(agent="x", ok=True, attempts=1, duration_ms=20)]
    assert stage_overhead_ms(plan, results, start, start + timedelta(seconds=9)) is None
