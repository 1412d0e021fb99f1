"""What `OrchestrationWorkflow` makes of its steps' results: the step outputs it
keeps, the run's record for the graph, the problems it reports. Pure: runs in
workflow code, so no I/O, clocks or randomness here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from temporalio import workflow
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    RetryState,
    TimeoutType,
)
from temporalio.exceptions import TimeoutError as ActivityTimeout

from orchestrator.models import (
    Agent,
    OrchestrationRequest,
    Outcome,
    Plan,
    Problem,
    ProblemKind,
    RunRecord,
    RunStatus,
    Step,
    StepOutput,
    StepRecord,
    StepResult,
    StepStatus,
)
from workflows.dag import stages
from workflows.preview import critical_path_ms

# The graph's record of a run that failed says why in full, as the API does ("the
# plan is not valid: the plan runs 9 steps at once; ..."), not the first words only.
ERROR_DETAILS = "graph-error-details"
# Runs after this patch report a step whose attempt timed out after the run was
# cancelled (its worker died before the cancel reached it) as cancelled, with the
# attempt it was; runs before it said failed, with no attempt.
TIMED_OUT_AFTER_CANCEL = "timed-out-after-cancel-is-cancelled"


def run_record(
    wf: str, request: OrchestrationRequest, status: RunStatus, problem: Problem | None,
    plan: Plan | None, results: dict[str, StepResult], undos: dict[str, Step],
    compensations: dict[str, StepResult], finished_at: datetime | None = None,
    started_at: datetime | None = None, waited: bool = False,
) -> RunRecord:
    """The run's final state for the graph: its plan, every step's state and every
    undo's (the plan's early mirror is write-behind, so this one carries the plan
    again), and every agent's go at a step."""
    steps = [] if plan is None else [_step_record(wf, s, results[s.id]) for s in plan.steps]
    steps += [
        _step_record(wf, undos[i], r, undo=True)
        for i, r in sorted(compensations.items()) if i in undos
    ]
    outcomes = [] if plan is None else [
        Outcome(step_id=s.id, agent=t.agent, capability=s.capability, ok=t.ok,
                duration_ms=t.duration_ms)
        for s in plan.steps for t in results[s.id].tries
    ]
    # Undos count in their agents' record too: how often an undo fails is worth knowing.
    outcomes += [
        Outcome(step_id=i, agent=t.agent, capability=undos[i].capability, ok=t.ok,
                duration_ms=t.duration_ms, undo=True, retry=n)
        for i, r in sorted(compensations.items()) if i in undos
        for n, t in enumerate(r.tries)
    ]
    return RunRecord(
        workflow_id=wf, request=request.message, status=status,
        error=_error(problem), plan=plan, steps=steps,
        outcomes=outcomes, follows=request.follows, finished_at=finished_at,
        # A run that waited for a person says nothing of what orchestration costs.
        stage_overhead_ms=stage_overhead_ms(plan, results, started_at, finished_at)
        if status == RunStatus.COMPLETED and not waited else None,
    )


def _error(problem: Problem | None) -> str | None:
    if problem is None:
        return None
    if problem.details and workflow.patched(ERROR_DETAILS):
        return f"{problem.message}: {'; '.join(problem.details)}"
    return problem.message


def stage_overhead_ms(
    plan: Plan | None, results: dict[str, StepResult], started_at: datetime | None,
    finished_at: datetime | None,
) -> float | None:
    """The run's time beyond its agents' longest chain, per stage: what planning,
    dispatch and mirroring add, for dry runs to predict with. None for a run with a
    step tried again: its backoffs (or the wait for a dead worker's heartbeat
    timeout) are not what another run's orchestration costs."""
    if plan is None or not plan.steps or started_at is None or finished_at is None:
        return None
    if any(t.attempts > 1 for s in plan.steps for t in results[s.id].tries) or any(
        len(results[s.id].tries) > 1 for s in plan.steps
    ):
        return None
    agents_ms = {s.id: sum(t.duration_ms for t in results[s.id].tries) for s in plan.steps}
    beyond = ms_between(started_at, finished_at) - critical_path_ms(plan.steps, agents_ms)
    return max(0, beyond) / len(stages(plan.steps))


def final_problem(
    stop: Problem | None, status: RunStatus, results: dict[str, StepResult],
    compensations: dict[str, StepResult], kept: Sequence[Step] = (),
) -> Problem | None:
    """What the caller needs to know: the reason the run stopped, with the failed
    steps, the completed ones nothing undoes (`kept`: a tool with no compensation)
    and, if any, the undos that failed."""
    if stop is None:
        return None
    failed = sorted(i for i, r in results.items() if r.status == StepStatus.FAILED)
    details = [f"{i}: {results[i].error}" for i in failed]
    # "rolled back" must not read as "nothing left": what stays is said.
    details += [f"not undone: {s.id} ({s.capability} has no compensation)" for s in kept]
    if status != RunStatus.ROLLBACK_FAILED:
        return stop.model_copy(update={"details": details})
    broken = sorted(i for i, r in compensations.items() if r.status != StepStatus.COMPLETED)
    return Problem(
        kind=ProblemKind.COMPENSATION_FAILED,
        message=f"{stop.message}; rollback incomplete: undo failed for {', '.join(broken)}",
        details=details + [f"undo {i}: {compensations[i].error}" for i in broken],
    )


def incomplete(problem: Problem, workflow_id: str, until: datetime) -> Problem:
    """The problem of a run whose rollback is incomplete (`problem`, as
    `final_problem` tells a failed rollback), with what a person can do about it."""
    how = (f"once the cause is fixed, `orchestrator rollback {workflow_id}` (POST "
           f"/v1/workflows/{workflow_id}/rollback) tries those undos again; "
           f"`orchestrator cancel {workflow_id}` gives up, leaving them as they are; "
           f"the run waits until {until:%Y-%m-%d %H:%M:%S} UTC, then ends rollback_failed")
    return problem.model_copy(update={"message": f"{problem.message}; {how}"})


def record_output(result: StepResult, status: StepStatus, output: StepOutput) -> None:
    result.status = status
    result.output = output.output
    result.operates_on = output.operates_on
    result.attempts = output.attempt
    result.started_at, result.finished_at = output.started_at, output.finished_at


def _step_record(wf: str, step: Step, result: StepResult, undo: bool = False) -> StepRecord:
    # A step that failed returned nothing, yet may have worked on what it was given
    # (a deploy that left its deployment failing): linked to what it was planned to
    # work on, so that the graph names it among the runs that touched those.
    touched = result.operates_on or (
        step.operates_on if result.status == StepStatus.FAILED else [])
    return StepRecord(
        workflow_id=wf, step_id=step.id, capability=step.capability,
        agent=result.agent or step.agent,
        status=result.status, attempt=result.attempts, output=result.output,
        error=result.error, operates_on=touched, undo=undo,
    )


def ms_between(start: datetime, end: datetime) -> int:
    return max(0, round((end - start).total_seconds() * 1000))


def planning_problem(err: ActivityError | ApplicationError) -> Problem:
    cause = err.cause if isinstance(err, ActivityError) else err
    if isinstance(cause, ApplicationError) and cause.type == "CannotPlan":
        detail: dict[str, Any] = cause.details[0] if cause.details else {}
        return Problem(
            kind=ProblemKind.QUESTION if detail.get("question") else ProblemKind.CANNOT_PLAN,
            message=cause.message,
            understood=detail.get("understood", []),
            not_understood=detail.get("not_understood", []),
        )
    message = cause.message if isinstance(cause, ApplicationError) else str(err)
    # The request may be fine: what planning reads was not there to read.
    kind = (ProblemKind.UNAVAILABLE
            if isinstance(cause, ApplicationError) and cause.type == "GraphStoreUnavailable"
            else ProblemKind.CANNOT_PLAN)
    return Problem(kind=kind, message=f"planning failed: {message}")


def cancelled_attempt(err: ActivityError) -> int | None:
    """The attempt of a step that timed out once its cancel was asked: its worker
    died before the cancel reached it, so the attempt stopped for the cancel, and
    Temporal tries it no more. None when the step failed or timed out on its own."""
    cause = err.cause
    if not isinstance(cause, ActivityTimeout) or err.retry_state != RetryState.CANCEL_REQUESTED:
        return None
    details = cause.last_heartbeat_details
    attempt = details[0].get("attempt") if details and isinstance(details[0], dict) else None
    # A timeout means an attempt had started; its heartbeats (if any came) say which.
    return attempt if isinstance(attempt, int) and attempt > 0 else 1


def failure(
    err: Exception, agent: Agent | None = None, capability: str = ""
) -> tuple[str, int]:
    """The error message and the number of attempts made (`agent`: the one that
    ran it, whose limits for `capability` explain a timeout)."""
    cause = err.cause if isinstance(err, ActivityError) else None
    if isinstance(cause, ApplicationError):
        detail = cause.details[0] if cause.details else {}
        attempts = detail.get("attempt", 0) if isinstance(detail, dict) else 0
        # An attempt that stopped itself at its timeout, as Temporal's timeout says it.
        made = (f"; {attempts} attempts made"
                if cause.type == "AttemptTimedOut" and attempts > 1 else "")
        return cause.message + made, attempts
    if isinstance(cause, ActivityTimeout) and agent is not None:
        assert isinstance(err, ActivityError)
        # A timed-out attempt tells nothing of itself: the retry state does.
        tries = agent.retry.max_attempts
        attempts = tries if err.retry_state == RetryState.MAXIMUM_ATTEMPTS_REACHED else 0
        limit = (f"sent no heartbeat within {agent.heartbeat_ms} ms"
                 if cause.type == TimeoutType.HEARTBEAT else
                 f"did not finish within {agent.timeout_ms(capability)} ms")
        # Of the attempts, only the last is known to have timed out.
        made = f"; {attempts} attempts made" if attempts > 1 else ""
        return f"{agent.id} {limit} (its timeout){made}", attempts
    return str(cause or err), 0
