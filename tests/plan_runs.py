"""A plan carried out by the built-in agents, stage by stage, and recorded as a
completed run: what the plan memory later finds in the graph."""

from __future__ import annotations

from orchestrator.agents.base import StepContext
from orchestrator.agents.platform import PlatformAgents
from orchestrator.graph.store import GraphStore
from orchestrator.models import Plan, RunRecord, RunStatus, StepRecord, StepStatus
from workflows.dag import resolve, stages


async def carry_out(
    store: GraphStore, plan: Plan, workflow_id: str, status: RunStatus = RunStatus.COMPLETED
) -> None:
    """`status`: what the run is recorded as when every step has run."""
    agents = PlatformAgents(store)
    by_id = {s.id: s for s in plan.steps}
    outputs: dict[str, dict[str, object]] = {}
    records: list[StepRecord] = []
    for stage in stages(plan.steps):
        for step_id in stage:
            step = by_id[step_id]
            ctx = StepContext(workflow_id=workflow_id, step_id=step.id, attempt=1)
            result = await agents.run(step.capability, resolve(step.parameters, outputs), ctx)
            outputs[step.id] = result.output
            records.append(StepRecord(
                workflow_id=workflow_id, step_id=step.id, capability=step.capability,
                agent=step.agent, status=StepStatus.COMPLETED, attempt=1,
                output=result.output, operates_on=result.operates_on,
            ))
    await store.record_run(RunRecord(
        workflow_id=workflow_id, request=plan.request, status=status, plan=plan,
        steps=records,
    ))
