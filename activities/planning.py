"""The plan activity: turns the request into a plan with its definitions."""

from __future__ import annotations

from temporalio import activity

from activities.errors import to_application_error
from orchestrator.agents.registry import AgentRegistry
from orchestrator.errors import OrchestratorError
from orchestrator.models import PlanInput, PlanOutput
from orchestrator.planning.offline import Planner, with_definitions


class PlanningActivities:
    def __init__(self, planner: Planner, registry: AgentRegistry) -> None:
        self._planner = planner
        self._registry = registry

    @activity.defn(name="plan_request")
    async def plan_request(self, request: PlanInput) -> PlanOutput:
        try:
            plan = await self._planner.plan(request.message)
            return with_definitions(plan, self._registry)
        except OrchestratorError as error:
            raise to_application_error(error) from error
