"""Agent selection over many steps, with the graph's statistics kept as the engine
keeps them: a chosen agent that fails for good counts a run, and the step's next
agent counts its own."""

from __future__ import annotations

import pytest

from orchestrator.agents.selection import EXPLORE_EVERY, MIN_TRIES, rank
from orchestrator.models import Agent, AgentKind, AgentStats

CAPABILITY = "deployment.create"


def _agent(agent_id: str) -> Agent:
    return Agent(id=agent_id, kind=AgentKind.BUILTIN, capabilities=[CAPABILITY])


def _firsts(works: dict[str, bool], steps: int,
            stats: dict[str, AgentStats] | None = None) -> list[str]:
    """The agent chosen first for each of `steps` steps (`stats`: kept up to date)."""
    agents = [_agent(a) for a in sorted(works)]
    stats = {} if stats is None else stats
    firsts = []
    for _ in range(steps):
        ranked = rank(agents, CAPABILITY, stats)
        firsts.append(ranked[0].id)
        for agent in ranked:  # each fails over to the next until one works
            ok = works[agent.id]
            stats.setdefault(f"{agent.id}/{CAPABILITY}", AgentStats()).count(1, int(ok), 5)
            if ok:
                break
    return firsts


@pytest.mark.parametrize("broken", ["agent-a", "agent-b"])
def test_the_reliable_agent_goes_first_in_nine_of_every_ten_steps(broken: str) -> None:
    works = {"agent-a": broken != "agent-a", "agent-b": broken != "agent-b"}
    reliable = next(a for a, ok in works.items() if ok)
    firsts = _firsts(works, 60)[2 * MIN_TRIES:]  # both tried first
    for start in range(len(firsts) - EXPLORE_EVERY + 1):
        window = firsts[start:start + EXPLORE_EVERY]
        assert window.count(reliable) >= EXPLORE_EVERY - 1, (start, window)
    # ...and the other still gets its chance, once in ten.
    assert firsts.count(broken) >= len(firsts) // EXPLORE_EVERY


@pytest.mark.parametrize("record", [20, 2000])
def test_a_reliable_agent_that_breaks_goes_behind_within_a_few_steps(record: int) -> None:
    """However long its good record: its lifetime rate alone would keep it first for
    about as many failing steps as it had successes."""
    stats: dict[str, AgentStats] = {}
    _firsts({"agent-a": True, "agent-b": False}, record, stats)
    firsts = _firsts({"agent-a": False, "agent-b": True}, 10, stats)
    switched = firsts.index("agent-b")
    assert switched <= 4, firsts
    assert firsts[switched:].count("agent-b") >= len(firsts[switched:]) - 1, firsts
