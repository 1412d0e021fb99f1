"""`GET /v1/workflows/{id}`: a run's status, plan and steps, from its query."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from temporalio.service import RPCError, RPCStatusCode

from api.deps import TemporalClientDep
from orchestrator.models import RunResult
from workflows.orchestration import OrchestrationWorkflow

router = APIRouter(prefix="/v1/workflows", tags=["workflows"])


@router.get("/{workflow_id}", response_model=RunResult, responses={404: {}})
async def get_workflow(workflow_id: str, client: TemporalClientDep) -> RunResult:
    """The run's status, its plan and each step's state."""
    handle = client.get_workflow_handle_for(OrchestrationWorkflow.run, workflow_id)
    try:
        return await handle.query(OrchestrationWorkflow.status)
    except RPCError as err:
        if err.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
            raise HTTPException(404, f"no workflow {workflow_id!r}") from err
        raise
