"""The plan activity: turns the request into a plan with its definitions."""

from __future__ import annotations

from temporalio import activity

from activities.errors import to_application_error
from orchestrator.agents.registry import AgentRegistry
from orchestrator.errors import OrchestratorError
from orchestrator.graph.store import GraphStore
from orchestrator.models import PlanInput, PlanOutput, RunRecord, RunStatus
from orchestrator.planning.offline import Planner, with_definitions


class PlanningActivities:
    def __init__(self, planner: Planner, registry: AgentRegistry, store: GraphStore) -> None:
        self._planner = planner
        self._registry = registry
        self._store = store

    @activity.defn(name="plan_request")
    async def plan_request(self, request: PlanInput) -> PlanOutput:
        """Plan the request and mirror the plan, before any step of it can start."""
        try:
            plan = await self._planner.plan(request.message)
            planned = with_definitions(plan, self._registry)
        except OrchestratorError as error:
            raise to_application_error(error) from error
        await self._store.record_run(RunRecord(
            workflow_id=request.workflow_id, request=request.message,
            status=RunStatus.RUNNING, plan=plan,
        ))
        return planned
