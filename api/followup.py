"""Follow-ups in a conversation: find the run a message continues, and hand the
message to it while it still goes."""

from __future__ import annotations

from fastapi import HTTPException
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.errors import Refusal, RunRefused
from api.run_state import as_temporal_sees_it, query_state
from orchestrator.models import Extension, Followup, Plan, Problem, ProblemKind, RunResult
from worker.client import run_handle
from workflows.orchestration import OrchestrationWorkflow

# Why a run refused a follow-up it could not take: the message goes to a new run.
REFUSED = "ExtendRefused"


async def started_with_key(client: Client, workflow_id: str) -> bool:
    """Whether the run an Idempotency-Key would start exists already."""
    try:
        await run_handle(client, workflow_id).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


def keyed_extension(run: RunResult, key: str | None) -> Extension | None:
    """The follow-up the run took on under this Idempotency-Key, if any."""
    if key is None:
        return None
    return next((e for e in run.extensions if e.key == key), None)


async def earlier_run(client: Client, conversation_id: str) -> RunResult:
    """The state of the run a follow-up continues; 404 when there is none."""
    try:
        handle = run_handle(client, conversation_id)
        state = await query_state(handle)
        # Ended from outside (terminated), it is followed as any ended run.
        return state if state.finished_at is not None else await as_temporal_sees_it(
            handle, state, client.data_converter)
    except RPCError as err:
        if err.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
            raise HTTPException(404, f"no conversation {conversation_id!r}: use the "
                                     "conversation_id of an earlier answer") from err
        raise


async def extend_run(
    client: Client, conversation_id: str, message: str, key: str | None
) -> Extension | None:
    """The steps the running run took on for the message; None when it had
    finished meanwhile (the caller starts a new run instead). The same key sends
    the same follow-up once: Temporal keeps one update per id, and answers a repeat
    with the first one's outcome."""
    handle = run_handle(client, conversation_id)
    try:
        return await handle.execute_update(
            OrchestrationWorkflow.extend, Followup(message=message, key=key),
            id=f"followup-{key}" if key else None,
        )
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        if isinstance(cause, ApplicationError) and cause.type == REFUSED:
            return None
        problem = _problem(cause)
        raise RunRefused(422, Refusal(
            detail=problem.message, workflow_id=conversation_id,
            conversation_id=conversation_id, problem=problem, plan=_refused_plan(cause),
        )) from err
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:  # closed between the query and now
            return None
        raise


def _problem(cause: BaseException | None) -> Problem:
    """Why the follow-up could not be added, in the shape of a run's problem."""
    if not isinstance(cause, ApplicationError):
        return Problem(kind=ProblemKind.CANNOT_PLAN, message=str(cause))
    detail = cause.details[0] if cause.details else None
    if cause.type == "CannotPlan" and isinstance(detail, dict):
        kind = ProblemKind.QUESTION if detail.get("question") else ProblemKind.CANNOT_PLAN
        return Problem(kind=kind, message=cause.message,
                       understood=detail.get("understood", []),
                       not_understood=detail.get("not_understood", []))
    details = [str(d) for d in detail] if isinstance(detail, list) else []
    return Problem(kind=ProblemKind.INVALID_PLAN, message=cause.message, details=details)


def _refused_plan(cause: BaseException | None) -> Plan | None:
    """The run's plan with the follow-up's steps, refused as not valid (over the
    budget): sent after the reasons by runs extended since it was."""
    if not isinstance(cause, ApplicationError) or cause.type != "InvalidPlan":
        return None
    refused = cause.details[1] if len(cause.details) > 1 else None
    return Plan.model_validate(refused) if isinstance(refused, dict) else None
