"""One runner for the whole built-in pack: each capability goes to the agents
that handle it, so the step activity needs to know only one."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from orchestrator.agents.base import AgentResult, AgentRunner, StepContext
from orchestrator.agents.diagnosis import DiagnosisAgents
from orchestrator.agents.faults import Fault
from orchestrator.agents.platform import PlatformAgents
from orchestrator.agents.remediation import RemediationAgents
from orchestrator.graph.store import GraphStore


class CapabilityRouter:
    def __init__(
        self, routes: Iterable[tuple[Iterable[str], AgentRunner]], default: AgentRunner
    ) -> None:
        self._routes = {name: runner for names, runner in routes for name in names}
        # Whatever no route names: it raises for capabilities it does not know.
        self._default = default

    async def run(
        self, capability: str, params: dict[str, Any], ctx: StepContext
    ) -> AgentResult:
        runner = self._routes.get(capability, self._default)
        return await runner.run(capability, params, ctx)


def builtin_agents(store: GraphStore, faults: Mapping[str, Fault] | None = None
                   ) -> CapabilityRouter:
    """The built-in pack over one graph, with the faults configured for it."""
    diagnosis = DiagnosisAgents(store, faults)
    remediation = RemediationAgents(store, faults)
    return CapabilityRouter(
        [(diagnosis.capabilities, diagnosis), (remediation.capabilities, remediation)],
        default=PlatformAgents(store, faults),
    )
