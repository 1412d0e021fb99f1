"""A dry run's answer: stages, predictions and a Mermaid drawing of the plan.

Pure: runs in workflow code. Predictions come from the agents' observed
statistics when there are any, and from stated defaults until then.
"""

from __future__ import annotations

from collections.abc import Mapping

from orchestrator.models import AgentStats, Plan, Preview, Step
from workflows.dag import stages

# Until history exists: what a step is assumed to take and how often it succeeds.
DEFAULT_STEP_MS = 1_000
DEFAULT_SUCCESS = 0.95
# Observed runs move the success rate away from the default as if the default had
# been seen this many times: a few runs do not make a certainty. (Smoothing towards
# one half instead made one success predict worse than none: 2/3 a step, so 9 % for
# S1's six steps against 74 % with no history at all.)
PRIOR_RUNS = 10


def preview(plan: Plan, stats: Mapping[str, AgentStats],
            stage_overhead_ms: float | None = None) -> Preview:
    """`stage_overhead_ms`: what recent runs took a stage beyond their agents' time
    (planning, Temporal's dispatch, the graph); the steps' own time is all without."""
    durations: dict[str, int] = {}
    success = 1.0
    observed = 0
    for step in plan.steps:
        seen = stats.get(f"{step.agent}/{step.capability}")
        if seen is not None and seen.runs > 0:
            observed += 1
            # The recent duration: a slow spell long ago (an outage) fades from it.
            durations[step.id] = round(seen.recent_ms) if seen.recent_ms > 0 else (
                seen.total_ms // seen.runs)
            p = success_rate(seen)
        else:
            durations[step.id] = DEFAULT_STEP_MS
            p = DEFAULT_SUCCESS
        if not step.optional:
            success *= p
    if observed == len(plan.steps):
        basis = "history of every step's agent"
    elif observed:
        basis = (f"history for {observed} of {len(plan.steps)} steps; defaults for the rest "
                 f"({DEFAULT_STEP_MS} ms, {DEFAULT_SUCCESS:.0%} success a step)")
    else:
        basis = (f"defaults, no history yet: {DEFAULT_STEP_MS} ms and "
                 f"{DEFAULT_SUCCESS:.0%} success a step")
    planned = stages(plan.steps)
    orchestration = 0
    if stage_overhead_ms is not None:
        orchestration = round(stage_overhead_ms * len(planned))
        basis += f"; plus {stage_overhead_ms:.0f} ms of orchestration a stage, as recent runs"
    return Preview(
        stages=planned,
        predicted_duration_ms=critical_path_ms(plan.steps, durations) + orchestration,
        predicted_success=round(success, 4),
        basis=basis,
        mermaid=mermaid(plan.steps),
    )


def success_rate(seen: AgentStats) -> float:
    """How often the agent's step succeeds: what was seen lately (an agent that has
    just broken, or works again), from the default."""
    if seen.recent_ok is None:
        return (seen.successes + DEFAULT_SUCCESS * PRIOR_RUNS) / (seen.runs + PRIOR_RUNS)
    weight = seen.recent_runs
    return (seen.recent_ok * weight + DEFAULT_SUCCESS * PRIOR_RUNS) / (weight + PRIOR_RUNS)


def critical_path_ms(steps: list[Step], durations: Mapping[str, int]) -> int:
    """The longest chain of dependent steps: parallel steps overlap."""
    finish: dict[str, int] = {}
    for stage in stages(steps):
        for step_id in stage:
            step = next(s for s in steps if s.id == step_id)
            start = max((finish[d] for d in step.depends_on), default=0)
            finish[step_id] = start + durations[step_id]
    return max(finish.values(), default=0)


def mermaid(steps: list[Step]) -> str:
    """`flowchart TD`, one node per step (id and capability), edges in run order."""
    node = {s.id: f"s{i}" for i, s in enumerate(steps)}
    lines = ["flowchart TD"]
    lines += [f'    {node[s.id]}["{s.id}<br/>{s.capability}"]' for s in steps]
    lines += [f"    {node[d]} --> {node[s.id]}" for s in steps for d in s.depends_on]
    return "\n".join(lines)
