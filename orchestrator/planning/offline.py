"""The offline planner: rules read the request, the graph decides the order."""

from __future__ import annotations

from typing import Protocol

from orchestrator.agents.registry import AgentRegistry
from orchestrator.errors import CannotPlan
from orchestrator.graph.store import GraphStore
from orchestrator.models import Plan, PlanOutput
from orchestrator.planning.parser import parse_request
from orchestrator.planning.synthesis import Synthesiser


class Planner(Protocol):
    async def plan(self, message: str) -> Plan: ...


class OfflinePlanner:
    def __init__(self, registry: AgentRegistry, store: GraphStore) -> None:
        self._synthesiser = Synthesiser(registry, store)

    async def plan(self, message: str) -> Plan:
        parsed = parse_request(message)
        understood = [f"{a.verb} {a.kind} {a.name}" for a in parsed.actions]
        if parsed.not_understood:
            raise CannotPlan("part of the request was not understood", understood,
                             parsed.not_understood)
        if not parsed.actions:
            raise CannotPlan("the request asks for nothing I can do", [], [])
        return await self._synthesiser.synthesise(message, parsed.actions)


def with_definitions(plan: Plan, registry: AgentRegistry) -> PlanOutput:
    """The plan plus every capability and agent it needs, compensations included,
    so the workflow can validate and run it without looking anything up."""
    names = {s.capability for s in plan.steps}
    names |= {s.compensation.capability for s in plan.steps if s.compensation}
    capabilities = {n: registry.capability(n) for n in sorted(names)}
    agent_ids = {a for s in plan.steps for a in (s.agent, *s.fallbacks)}
    # Every provider of an undo: a step that moved to another agent is undone by it.
    agent_ids |= {a.id for s in plan.steps if s.compensation
                  for a in registry.providers(s.compensation.capability)}
    agents = {i: registry.agent(i) for i in sorted(agent_ids)}
    return PlanOutput(plan=plan, capabilities=capabilities, agents=agents)
