"""What Temporal knows of a run that the run's own query cannot tell: that it was
ended from outside, and which attempt its running steps are on, and how far the
tool of each has got.

A run's query answers with the workflow's state, which learns of a step only
when its activity ends: a step on its third attempt shows none, and a run
terminated from the Web UI answers with the state it had then. Temporal's
description of the run has both: its status, and each pending activity's
attempt and last failure, matched to its step by the step's heartbeats
(activities/heartbeat.py).
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

from fastapi import HTTPException
from temporalio.api.workflow.v1 import PendingActivityInfo
from temporalio.client import WorkflowExecutionDescription, WorkflowExecutionStatus, WorkflowHandle
from temporalio.converter import DataConverter
from temporalio.service import RPCError, RPCStatusCode

from activities.planning import PLAN_ACTIVITY
from orchestrator.models import (
    ApprovalStatus,
    PlanningTry,
    Problem,
    ProblemKind,
    RunResult,
    RunStatus,
    StepResult,
    StepStatus,
)
from worker.settle import ended_outside, how_ended
from workflows.orchestration import OrchestrationWorkflow

# A query waits while the run's workflow task is being tried; one that fails on
# every try (a code change under the run) would hold it until the RPC's deadline.
QUERY_TIMEOUT = timedelta(seconds=10)
# What a call to a Temporal server that is down or restarting fails with.
UNREACHABLE = frozenset({RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED})
# How long a caller waiting for a run's end goes on waiting while Temporal does not
# answer (its server restarting; a long poll cut short under load): the run goes on
# meanwhile, and the request sent again would start another run.
WAIT_THROUGH_S = 60.0
# What Temporal says of a run whose workflow task fails on every try, and of a
# query whose replay found the code changed.
STUCK = "Workflow Task in failed state"
NONDETERMINISM = "[TMPRL1100]"


async def query_state(handle: WorkflowHandle[Any, RunResult]) -> RunResult:
    """The run's status query; 409 saying why for a run whose workflow task fails
    on every try (Temporal's "Workflow Task in failed state", or no answer)."""
    try:
        state: RunResult = await handle.query(OrchestrationWorkflow.status,
                                              rpc_timeout=QUERY_TIMEOUT)
    except RPCError as err:
        described = None
        if not stuck_error(err):
            if err.status not in (RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED):
                raise
            described = await _described(handle)
            # Tried more than once and not done: each try fails.
            if described is None or described.raw_description.pending_workflow_task.attempt <= 1:
                raise
        raise await stuck_refusal(handle, err, described) from err
    return state


def stuck_error(err: RPCError) -> bool:
    """Temporal's word that the run's workflow code fails on the worker: its task
    in failed state, or a query that replayed into a mismatch."""
    return (err.status == RPCStatusCode.FAILED_PRECONDITION and STUCK in err.message) or (
        NONDETERMINISM in err.message)


async def stuck_refusal(
    handle: WorkflowHandle[Any, RunResult], err: RPCError,
    described: WorkflowExecutionDescription | None = None,
) -> HTTPException:
    """409 for a run whose workflow code fails: stuck while it goes, or (ended since,
    from outside) an ended run this code cannot read. `described`: the run as
    Temporal described it just now, if it was."""
    replay = f"`orchestrator replay {handle.id}` shows where it parts from the run's history"
    described = described or await _described(handle)
    if described is not None and described.status not in (
        None, WorkflowExecutionStatus.RUNNING
    ):
        return HTTPException(409, (
            f"run {handle.id} has ended ({how_ended(described.status)}), and this "
            f"worker's code cannot read its state ({err.message}): the code changed since "
            f"the run started; {replay}"))
    return HTTPException(409, (
        f"run {handle.id} is stuck: its workflow code fails on the worker ({err.message}); "
        f"if the code changed since it started, {replay} (restore it, or put the change "
        "behind workflow.patched, and the run goes on); otherwise the worker's log has the "
        "error"))


async def _described(handle: WorkflowHandle[Any, RunResult]
                     ) -> WorkflowExecutionDescription | None:
    try:
        return await handle.describe(rpc_timeout=QUERY_TIMEOUT)
    except RPCError:
        return None


def with_predictions(state: RunResult) -> RunResult:
    """A dry run's plan carries the preview's predictions, as its fields promise
    (the workflow keeps them in the preview only)."""
    if state.plan is None or state.preview is None:
        return state
    plan = state.plan.model_copy(update={
        "predicted_duration_ms": state.preview.predicted_duration_ms,
        "predicted_success": state.preview.predicted_success})
    return state.model_copy(update={"plan": plan})


async def as_temporal_sees_it(
    handle: WorkflowHandle[Any, RunResult], state: RunResult, converter: DataConverter
) -> RunResult:
    """`state` (of a run whose query says it has not ended) with what Temporal adds."""
    described = await handle.describe()
    if described.status not in (None, WorkflowExecutionStatus.RUNNING):
        return _ended_outside(state, described)
    for pending in described.raw_description.pending_activities:
        if pending.activity_type.name == PLAN_ACTIVITY:
            state.planning = _planning(pending)
            continue
        step = await _step_of(pending, converter)
        if step is None:
            continue
        results = state.compensations if step.get("undo") else state.steps
        result = results.get(str(step.get("step")))
        if result is not None and result.status == StepStatus.RUNNING:
            _on_attempt(result, pending)
            # Details an earlier attempt left (the retry has not beaten yet) are not
            # this attempt's progress.
            if step.get("attempt", pending.attempt) == pending.attempt:
                result.progress = _progress(step)
    return state


def _ended_outside(state: RunResult, described: WorkflowExecutionDescription) -> RunResult:
    """Failed, and said so, so that whoever follows the run stops waiting for an end
    that has come."""
    assert described.status is not None
    message = ended_outside(described.status)
    undone = sorted(i for i, r in state.compensations.items()
                    if r.status == StepStatus.COMPLETED)
    if undone:  # cut short in its rollback: what it had undone was undone
        message = message.replace("nothing was rolled back",
                                  f"its rollback stopped, having undone {', '.join(undone)}")
    approvals = {target: a.model_copy(update={
        "status": ApprovalStatus.WITHDRAWN, "answered_at": described.close_time,
        "reason": "the run was ended from outside"}) if a.status == ApprovalStatus.PENDING
        else a for target, a in state.approvals.items()}
    return state.model_copy(update={
        "status": RunStatus.FAILED, "finished_at": described.close_time,
        "problem": Problem(kind=ProblemKind.TERMINATED, message=message),
        "approvals": approvals, "steps": _stopped(state.steps),
        "compensations": _stopped(state.compensations),
    })


# Nothing runs or waits any more: a step (or undo) going is told as stopped, and a
# step whose undo was cut short as what it was, done and not undone.
_STOPPED = {StepStatus.AWAITING_APPROVAL: StepStatus.CANCELLED,
            StepStatus.RUNNING: StepStatus.CANCELLED,
            StepStatus.COMPENSATING: StepStatus.COMPLETED}


def _stopped(results: dict[str, StepResult]) -> dict[str, StepResult]:
    return {i: r.model_copy(update={"status": _STOPPED[r.status]}) if r.status in _STOPPED
            else r for i, r in results.items()}


async def _step_of(pending: PendingActivityInfo, converter: DataConverter
                   ) -> dict[str, Any] | None:
    """The step a pending activity runs, from its last heartbeat; None before one."""
    if not pending.heartbeat_details.payloads:
        return None
    details = await converter.decode(list(pending.heartbeat_details.payloads))
    first = details[0] if details else None
    return first if isinstance(first, dict) and "step" in first else None


def _planning(pending: PendingActivityInfo) -> PlanningTry:
    """The try a model is planning the run on, and why the one before failed."""
    return PlanningTry(attempt=max(pending.attempt, 1), max_attempts=pending.maximum_attempts,
                       last_failure=_last_failure(pending) or None)


def _last_failure(pending: PendingActivityInfo) -> str:
    """Why the attempt before the pending one failed; empty before a failure."""
    return pending.last_failure.message if pending.HasField("last_failure") else ""


def _on_attempt(result: StepResult, pending: PendingActivityInfo) -> None:
    result.attempts = max(result.attempts, pending.attempt)
    failure = _last_failure(pending)
    if pending.attempt > 1 and failure:
        result.error = f"attempt {pending.attempt - 1} failed: {failure}; trying again"


def _progress(details: dict[str, Any]) -> str | None:
    """"2/6: message", from what a tool last reported in the step's heartbeat."""
    waiting = details.get("waiting")
    if isinstance(waiting, str):  # activities/steps.py: the graph is unreachable
        return f"waiting: {waiting}"
    done = details.get("progress")
    if not isinstance(done, int | float):
        return None
    total = details.get("total")
    text = f"{done:g}/{total:g}" if isinstance(total, int | float) else f"{done:g}"
    message = details.get("message")
    return f"{text}: {message}" if message else text


async def run_result(handle: WorkflowHandle[Any, Any]) -> RunResult:
    """The run's result, waited for through Temporal not answering for a while; then
    a 503 that names the run rather than asking for the request again."""
    deadline: float | None = None
    while True:
        try:
            result: RunResult = await handle.result()
            return result
        except RPCError as err:
            if err.status not in UNREACHABLE:
                raise
            now = time.monotonic()
            deadline = deadline if deadline is not None else now + WAIT_THROUGH_S
            if now >= deadline:
                raise HTTPException(503, (
                    f"run {handle.id} started, but Temporal stopped answering while its "
                    f"end was waited for ({err.message}): follow it with GET "
                    f"/v1/workflows/{handle.id} once Temporal answers; the request sent "
                    "again would start another run")) from err
            await asyncio.sleep(0.5)
