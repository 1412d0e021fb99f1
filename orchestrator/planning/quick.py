"""Which read-only steps run as local activities.

A step run as an activity costs a round trip through the Temporal server each
way (~10 ms on these machines), several times what a read-only MCP call takes
itself (~2 ms). A local activity runs in the worker that runs the workflow, in
the same workflow task, and costs about the call. It gives up what a quick read
does not need: heartbeats (a quick call has no progress to tell), a prompt
cancel (it is over first), and queries answered while it runs (they wait for
it). So only a step that cannot do harm when run twice (read-only) and that the
graph has seen finish quickly, on the agent it would run on, runs so; any other
step, and the first call of a tool, runs as an activity.
"""

from __future__ import annotations

from collections.abc import Mapping

from orchestrator.models import AgentStats, Capability, PlanOutput, Step

# A read-only step whose agent recently took at most this long runs locally: far
# below anything a person waiting on a query would notice.
QUICK_MS = 250.0
# Observed runs before a duration is trusted: one fast call may have been luck.
QUICK_AFTER_RUNS = 3


def quick_agents(step: Step, capability: Capability,
                 stats: Mapping[str, AgentStats]) -> list[str]:
    """The step's agents (first and fallbacks) observed to run it quickly."""
    if not capability.read_only:
        return []
    quick = []
    for agent in (step.agent, *step.fallbacks):
        seen = stats.get(f"{agent}/{step.capability}")
        if seen is not None and seen.runs >= QUICK_AFTER_RUNS and seen.recent_ms <= QUICK_MS:
            quick.append(agent)
    return quick


def mark_quick(planned: PlanOutput, stats: Mapping[str, AgentStats]) -> PlanOutput:
    """The plan with each step's quick agents set from the graph's statistics, and
    any a planner (a model) wrote replaced."""
    steps = [s.model_copy(update={"quick_agents": quick_agents(
        s, planned.capabilities[s.capability], stats)}) for s in planned.plan.steps]
    if steps == planned.plan.steps:
        return planned
    return planned.model_copy(update={"plan": planned.plan.model_copy(update={"steps": steps})})


def reads(planned: PlanOutput) -> bool:
    """Whether any step of the plan is read-only (else no statistics are needed)."""
    return any(planned.capabilities[s.capability].read_only for s in planned.plan.steps)
