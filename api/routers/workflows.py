"""`/v1/workflows`: the runs, listed from Temporal's visibility; `/v1/workflows/{id}`:
a run's state from its query, and the controls a person has over it: approve,
reject, cancel, and retry a rollback left incomplete."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.deps import SettingsDep, TemporalClientDep, WorkflowId
from api.errors import described
from api.keys import with_keys_as_sent
from api.run_list import BadListing, page_token, summary, token_text, visibility_query
from api.run_state import (
    as_temporal_sees_it,
    query_state,
    stuck_error,
    stuck_refusal,
    with_predictions,
)
from api.schemas import RunPage
from orchestrator.models import Decision, ProblemKind, RunResult, RunStatus
from worker.client import run_handle
from worker.settle import ended_outside
from workflows.approvals import answered, last_answered
from workflows.orchestration import OrchestrationWorkflow

router = APIRouter(prefix="/v1/workflows", tags=["workflows"])
Handle = WorkflowHandle[Any, RunResult]


@router.get("", response_model=RunPage, responses=described(400))
async def list_runs(
    client: TemporalClientDep, settings: SettingsDep, status: RunStatus | None = None,
    tenant: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_.-]{1,64}$")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    page_token_: Annotated[str | None, Query(alias="page_token", max_length=4096)] = None,
) -> RunPage:
    """Runs, those still going first, then the last to end first; by status and
    tenant if asked. Pages: `next_page_token` back as `page_token`."""
    try:
        query = visibility_query(status, tenant)
        runs = client.list_workflows(query, page_size=limit,
                                     next_page_token=page_token(page_token_, query))
        await runs.fetch_next_page()
    except BadListing as err:
        raise HTTPException(400, str(err)) from None
    except RPCError as err:
        if err.status != RPCStatusCode.INVALID_ARGUMENT or not page_token_:
            raise
        raise HTTPException(400, "page_token is not one this API gave (or its page is "
                                 "gone): start again without it") from None
    return RunPage(runs=[await summary(run, settings) for run in runs.current_page or []],
                   next_page_token=token_text(runs.next_page_token, query))


@router.get("/{workflow_id}", response_model=RunResult, responses=described(404))
async def get_workflow(workflow_id: WorkflowId, client: TemporalClientDep) -> RunResult:
    """The run's status, its plan, each step's state, approvals and rollback."""
    handle = run_handle(client, workflow_id)
    try:
        state = with_predictions(await query_state(handle))
        if state.finished_at is None:
            state = await as_temporal_sees_it(handle, state, client.data_converter)
        return with_keys_as_sent(state)
    except RPCError as err:
        raise _not_found(err, workflow_id) from err


@router.post("/{workflow_id}/approve", response_model=RunResult, responses=described(404, 409))
async def approve(
    workflow_id: WorkflowId, client: TemporalClientDep, decision: Decision | None = None
) -> RunResult:
    """Approve the pending approval (the plan's, or the step named by `step_id`)."""
    handle = run_handle(client, workflow_id)
    return await _answer(handle, decision or Decision(), approve=True)


@router.post("/{workflow_id}/reject", response_model=RunResult, responses=described(404, 409))
async def reject(
    workflow_id: WorkflowId, client: TemporalClientDep, decision: Decision | None = None
) -> RunResult:
    """Reject the pending approval: the run stops and what it did is rolled back."""
    handle = run_handle(client, workflow_id)
    return await _answer(handle, decision or Decision(), approve=False)


@router.post("/{workflow_id}/cancel", response_model=RunResult, responses=described(404, 409))
async def cancel(workflow_id: WorkflowId, client: TemporalClientDep) -> RunResult:
    """Ask the run to stop: running steps are cancelled, completed ones compensated."""
    handle = run_handle(client, workflow_id)
    try:
        state = await query_state(handle)
        if state.finished_at is None:  # as its code saw it: ended from outside, perhaps
            state = await as_temporal_sees_it(handle, state, client.data_converter)
        if state.finished_at is not None:
            ended = state.problem.message if state.problem and (
                state.problem.kind == ProblemKind.TERMINATED) else state.status.value
            raise HTTPException(409, f"run {workflow_id} has already ended: {ended}")
        if state.status == RunStatus.ROLLING_BACK:
            # Already stopping and undoing what it did: a cancel would change nothing
            # (the rollback goes on to its end), so none is sent.
            why = f" ({state.problem.message})" if state.problem else ""
            raise HTTPException(409, f"run {workflow_id} is already being rolled back{why}: "
                                     "the rollback goes on to its end")
        await handle.cancel()
        return with_keys_as_sent(await query_state(handle))
    except RPCError as err:
        raise _not_found(err, workflow_id) from err


@router.post("/{workflow_id}/rollback", response_model=RunResult, responses=described(404, 409))
async def retry_rollback(workflow_id: WorkflowId, client: TemporalClientDep) -> RunResult:
    """Try again the undos of a run whose rollback is incomplete (`rollback_incomplete`:
    an undo failed for good, its cause since fixed); returns the run as that try
    left it: `rolled_back` (or `cancelled`), or `rollback_incomplete` still."""
    handle = run_handle(client, workflow_id)
    return await _update(handle, lambda: handle.execute_update(
        OrchestrationWorkflow.retry_rollback), "its rollback to be tried again")


async def _answer(handle: Handle, decision: Decision, approve: bool) -> RunResult:
    update = OrchestrationWorkflow.approve if approve else OrchestrationWorkflow.reject
    return await _update(handle, lambda: handle.execute_update(update, decision),
                         "an answer")


async def _update(handle: Handle, send: Callable[[], Awaitable[RunResult]],
                  waited: str) -> RunResult:
    """The run's answer to an update; 409 saying why it was refused, or that the run
    has stopped (nothing waits for `waited` any more)."""
    try:
        return with_keys_as_sent(await send())
    except WorkflowUpdateFailedError as err:
        # The workflow's validator refused the answer; its message says why.
        cause = err.cause
        message = cause.message if isinstance(cause, ApplicationError) else str(cause or err)
        raise HTTPException(409, message) from err
    except RPCError as err:
        if stuck_error(err):
            raise await stuck_refusal(handle, err) from err
        if err.status == RPCStatusCode.NOT_FOUND and await _exists(handle):
            raise HTTPException(409, f"run {handle.id} {await _stopped(handle)}: nothing "
                                     f"waits for {waited}") from err
        raise _not_found(err, handle.id) from err


async def _stopped(handle: Handle) -> str:
    """Whether the run has ended (from outside, perhaps), or is still undoing what it did."""
    try:
        described = await handle.describe()
        if described.status != WorkflowExecutionStatus.RUNNING:
            return "has ended" if described.status == WorkflowExecutionStatus.COMPLETED else (
                ended_outside(described.status).removeprefix("the run ")
                if described.status else "has ended")
        state = await query_state(handle)
    except RPCError:
        return "has ended"
    if state.finished_at is None:
        return f"is {state.status.value}"
    # An answer that lost a race learns what the first one did.
    last = last_answered(state.approvals.values())
    how = f"; {answered(last)}" if last is not None else ""
    return f"has ended ({state.status.value}{how})"


async def _exists(handle: Handle) -> bool:
    try:
        await handle.describe()
    except RPCError:
        return False
    return True


def _not_found(err: RPCError, workflow_id: str) -> Exception:
    if err.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
        return HTTPException(404, f"no workflow {workflow_id!r}")
    if err.status == RPCStatusCode.FAILED_PRECONDITION:
        return HTTPException(409, f"run {workflow_id} cannot take this: {err.message}")
    return err
