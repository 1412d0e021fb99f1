"""`OrchestrationWorkflow`: plan, validate, then run the plan's steps as a DAG.

Deterministic by construction: no I/O, clocks or randomness here; every side
effect is an activity. Steps whose dependencies are done start at once, up to
the parallelism budget, and earlier outputs are resolved into later parameters.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.graph import GraphActivities
    from activities.planning import PlanningActivities
    from activities.steps import StepActivities
    from orchestrator.models import (
        OrchestrationRequest,
        PlanInput,
        PlanOutput,
        Problem,
        ProblemKind,
        RunRecord,
        RunResult,
        RunStatus,
        Step,
        StepInput,
        StepRecord,
        StepResult,
        StepStatus,
    )
    from workflows.dag import PlanProblem, resolve, stages
    from workflows.validation import parameter_problems, validate_plan

PLAN_TIMEOUT = timedelta(minutes=2)
MIRROR_TIMEOUT = timedelta(seconds=30)
QUICK_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_attempts=3)
# Mirroring must never fail a run: it retries until the graph takes the write.
MIRROR_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=10)
)


@workflow.defn
class OrchestrationWorkflow:
    def __init__(self) -> None:
        self._request: OrchestrationRequest | None = None
        self._status = RunStatus.PLANNING
        self._planned: PlanOutput | None = None
        self._results: dict[str, StepResult] = {}
        self._problem: Problem | None = None
        self._finished_at: datetime | None = None

    @workflow.run
    async def run(self, request: OrchestrationRequest) -> RunResult:
        self._request = request
        self._planned = await self._plan(request)
        if self._planned is None:
            return await self._finish(RunStatus.FAILED)
        plan = self._planned.plan
        self._results = {s.id: StepResult(step_id=s.id) for s in plan.steps}
        self._status = RunStatus.RUNNING
        await self._execute(plan.steps, request.limits.max_parallel)
        failed = [s for s in self._results.values() if s.status == StepStatus.FAILED]
        return await self._finish(RunStatus.FAILED if failed else RunStatus.COMPLETED)

    @workflow.query
    def status(self) -> RunResult:
        return RunResult(
            workflow_id=workflow.info().workflow_id,
            status=self._status,
            request=self._request.message if self._request else "",
            plan=self._planned.plan if self._planned else None,
            steps=self._results,
            problem=self._problem,
            started_at=workflow.info().start_time,
            finished_at=self._finished_at,
        )

    @workflow.update
    async def planned(self) -> RunResult:
        """Returns as soon as the plan is known (or planning failed)."""
        await workflow.wait_condition(lambda: self._status != RunStatus.PLANNING)
        return self.status()

    async def _plan(self, request: OrchestrationRequest) -> PlanOutput | None:
        try:
            # Local: planning runs inside this workflow task, saving a round trip
            # through the server before the first step can start.
            planned = await workflow.execute_local_activity_method(
                PlanningActivities.plan_request,
                PlanInput(workflow_id=workflow.info().workflow_id, message=request.message),
                start_to_close_timeout=PLAN_TIMEOUT, retry_policy=QUICK_RETRY,
                summary="plan the request",
            )
        except (ActivityError, ApplicationError) as err:
            # A local activity's failure arrives as the ApplicationError itself.
            self._problem = _planning_problem(err)
            return None
        problems = validate_plan(planned, request.limits)
        if problems:
            self._problem = Problem(
                kind=ProblemKind.INVALID_PLAN, message="the plan is not valid", details=problems
            )
            return None
        return planned

    async def _execute(self, steps: list[Step], max_parallel: int) -> None:
        """Ready-set scheduling: start every step whose dependencies are done."""
        by_id = {s.id: s for s in steps}
        order = [i for stage in stages(steps) for i in stage]
        pending = list(order)
        running: dict[str, asyncio.Task[None]] = {}
        while pending or running:
            if not self._stopping():
                for step_id in list(pending):
                    if len(running) >= max_parallel:
                        break
                    if self._ready(by_id[step_id]):
                        pending.remove(step_id)
                        running[step_id] = asyncio.create_task(self._run_step(by_id[step_id]))
            if not running:
                break
            await workflow.wait(list(running.values()), return_when=asyncio.FIRST_COMPLETED)
            for step_id in [i for i, task in running.items() if task.done()]:
                running.pop(step_id).result()

    def _ready(self, step: Step) -> bool:
        done = (StepStatus.COMPLETED, StepStatus.SKIPPED)
        return all(self._results[d].status in done for d in step.depends_on)

    def _stopping(self) -> bool:
        return any(r.status == StepStatus.FAILED for r in self._results.values())

    async def _run_step(self, step: Step) -> None:
        assert self._planned is not None
        result = self._results[step.id]
        result.status = StepStatus.RUNNING
        result.started_at = workflow.now()
        try:
            params = self._resolve(step)
            result.parameters = params
            agent = self._planned.agents[step.agent]
            retry = agent.retry
            output = await workflow.execute_activity_method(
                StepActivities.run_agent_step,
                StepInput(
                    workflow_id=workflow.info().workflow_id,
                    step=step.model_copy(update={"parameters": params}),
                ),
                start_to_close_timeout=timedelta(milliseconds=agent.start_to_close_ms),
                heartbeat_timeout=(
                    timedelta(milliseconds=agent.heartbeat_ms) if agent.heartbeat_ms else None
                ),
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(milliseconds=retry.initial_interval_ms),
                    backoff_coefficient=retry.backoff,
                    maximum_interval=timedelta(milliseconds=retry.max_interval_ms),
                    maximum_attempts=retry.max_attempts,
                ),
                summary=f"{step.id} · {step.capability} · {step.agent}",
            )
        except (ActivityError, PlanProblem) as err:
            result.status = StepStatus.SKIPPED if step.optional else StepStatus.FAILED
            result.error, result.attempts = _failure(err)
            result.finished_at = workflow.now()
            return
        result.status = StepStatus.COMPLETED
        result.output = output.output
        result.operates_on = output.operates_on
        result.attempts = output.attempt
        result.started_at, result.finished_at = output.started_at, output.finished_at

    def _resolve(self, step: Step) -> dict[str, Any]:
        """Resolve references to earlier outputs, then check the values against the schema."""
        assert self._planned is not None
        outputs = {i: r.output for i, r in self._results.items() if r.output is not None}
        params: dict[str, Any] = resolve(step.parameters, outputs)
        schema = self._planned.capabilities[step.capability].input_schema
        problems = parameter_problems(schema, params, partial=False)
        if problems:
            raise PlanProblem(f"step {step.id}: {'; '.join(problems)}")
        return params

    def _record(self) -> RunRecord:
        """The run's final state for the graph: its plan and every step's state (the
        plan's early mirror is write-behind, so this one carries the plan again)."""
        assert self._request is not None
        wf = workflow.info().workflow_id
        plan = self._planned.plan if self._planned else None
        steps = [] if plan is None else [
            StepRecord(
                workflow_id=wf, step_id=s.id, capability=s.capability, agent=s.agent,
                status=self._results[s.id].status, attempt=self._results[s.id].attempts,
                output=self._results[s.id].output, error=self._results[s.id].error,
                operates_on=self._results[s.id].operates_on,
            )
            for s in plan.steps
        ]
        return RunRecord(
            workflow_id=wf, request=self._request.message, status=self._status,
            error=self._problem.message if self._problem else None, plan=plan, steps=steps,
        )

    async def _finish(self, status: RunStatus) -> RunResult:
        failed = sorted(i for i, r in self._results.items() if r.status == StepStatus.FAILED)
        if failed and self._problem is None:
            self._problem = Problem(
                kind=ProblemKind.STEP_FAILED,
                message=f"step(s) failed: {', '.join(failed)}",
                details=[f"{i}: {self._results[i].error}" for i in failed],
            )
        self._status = status
        self._finished_at = workflow.now()
        # Local: the final mirror and the completion share one workflow task.
        await workflow.execute_local_activity_method(
            GraphActivities.record_run, self._record(), start_to_close_timeout=MIRROR_TIMEOUT,
            retry_policy=MIRROR_RETRY, summary=f"mirror {status.value} run",
        )
        # A caller waiting on `planned` gets its answer before the run closes.
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.status()


def _planning_problem(err: ActivityError | ApplicationError) -> Problem:
    cause = err.cause if isinstance(err, ActivityError) else err
    if isinstance(cause, ApplicationError) and cause.type == "CannotPlan":
        detail: dict[str, list[str]] = cause.details[0] if cause.details else {}
        return Problem(
            kind=ProblemKind.CANNOT_PLAN, message=cause.message,
            understood=detail.get("understood", []),
            not_understood=detail.get("not_understood", []),
        )
    message = cause.message if isinstance(cause, ApplicationError) else str(err)
    return Problem(kind=ProblemKind.CANNOT_PLAN, message=f"planning failed: {message}")


def _failure(err: Exception) -> tuple[str, int]:
    """The error message and the number of attempts made."""
    cause = err.cause if isinstance(err, ActivityError) else None
    if isinstance(cause, ApplicationError):
        detail = cause.details[0] if cause.details else {}
        attempts = detail.get("attempt", 0) if isinstance(detail, dict) else 0
        return cause.message, attempts
    return str(cause or err), 0
