"""Which provider of a capability runs a step, from what the graph has observed.

Deterministic, so a plan can be explained and tested: new agents are tried
first (each until it has a small record), then the best smoothed recent success
rate wins, faster recent latency breaking ties; one selection in ten goes to the
runner-up, so a recovering agent gets another chance. The ranking after the
first is the order of fallbacks when the chosen agent fails for good.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from orchestrator.models import Agent, AgentStats

# Runs an agent gets before its record decides anything.
MIN_TRIES = 2
# One selection in this many explores: the runner-up goes first.
EXPLORE_EVERY = 10


def rank(
    providers: Sequence[Agent], capability: str, stats: Mapping[str, AgentStats]
) -> list[Agent]:
    """Providers best first."""
    def seen(agent: Agent) -> AgentStats:
        return stats.get(f"{agent.id}/{capability}", AgentStats())

    def mean_ms(agent: Agent) -> float:
        s = seen(agent)
        return s.total_ms / s.runs if s.runs else 0.0

    untried = sorted((a for a in providers if seen(a).runs < MIN_TRIES),
                     key=lambda a: (seen(a).runs, a.id))
    proven = sorted((a for a in providers if seen(a).runs >= MIN_TRIES),
                    key=lambda a: (-success_rate(seen(a)), mean_ms(a), a.id))
    if untried:
        return untried + proven
    # Steps are counted by their successes: a step whose first agent failed over
    # to the next counts two runs, and counting runs would explore every 9 steps.
    done = sum(seen(a).successes for a in providers)
    if len(proven) > 1 and done % EXPLORE_EVERY == EXPLORE_EVERY - 1:
        proven[0], proven[1] = proven[1], proven[0]
    return proven


def success_rate(stats: AgentStats) -> float:
    """Laplace-smoothed (a few runs do not make a certainty either way), over the
    recent runs: an agent that broke after a long good record goes behind its
    alternative within a few failures, and one that works again after a long bad
    one comes back as soon. Over every run for statistics from before recent
    success was kept."""
    if stats.recent_ok is None:
        return (stats.successes + 1) / (stats.runs + 2)
    return (stats.recent_ok * stats.recent_runs + 1) / (stats.recent_runs + 2)
