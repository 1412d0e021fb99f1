"""`OrchestrationWorkflow`: plan, validate, approve, run the plan's steps as a DAG,
and roll back what was done when the run cannot finish.

Deterministic by construction: no I/O, clocks or randomness here; every side
effect is an activity. Steps whose dependencies are done start at once, up to
the parallelism budget, and earlier outputs are resolved into later parameters.
When a required step fails for good, an approval is refused or the run is
cancelled, scheduling stops and completed steps are compensated in reverse
dependency order (saga). The pure parts live in `workflows/` modules beside it.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError

with workflow.unsafe.imports_passed_through():
    from activities.graph import GraphActivities
    from orchestrator.models import (
        Agent,
        AgentTry,
        ApprovalStatus,
        Decision,
        Extension,
        Followup,
        OrchestrationRequest,
        Plan,
        PlanInput,
        PlanOutput,
        Preview,
        Problem,
        ProblemKind,
        RunRecord,
        RunResult,
        RunStatus,
        Step,
        StepOutput,
        StepResult,
        StepStatus,
    )
    from orchestrator.planning.conversation import conversation_entities
    from workflows import search_attributes as sa
    from workflows.approvals import PLAN, ApprovalRefused, Approvals
    from workflows.calls import QUICK_STEPS_LOCAL, call_agent
    from workflows.dag import PlanProblem, references, resolve, stages
    from workflows.extension import (
        PENDING_WAIT_FOR_ADDED,
        REFUSED_PLAN_TOLD,
        WAIT_FOR_MAKERS,
        made_by,
        merge,
    )
    from workflows.metrics import run_ended
    from workflows.mirroring import mirror_options
    from workflows.outcomes import (
        TIMED_OUT_AFTER_CANCEL,
        cancelled_attempt,
        failure,
        final_problem,
        incomplete,
        ms_between,
        planning_problem,
        record_output,
        run_record,
    )
    from workflows.planning import ask_for_plan
    from workflows.preview import preview
    from workflows.rollback import (
        CLEAN_UP_UNFINISHED,
        NO_FAILOVER_WHILE_STOPPING,
        RECHECK_WHAT_UNDOS_LEFT,
        RETRY_INCOMPLETE_ROLLBACK,
        ROLLBACK_OUTLIVES_CANCEL,
        UNDO_TRIES_KEPT,
        cleans_up,
        not_undone,
        passed_to_undone,
        ready,
        to_undo,
        undo_step,
    )
    from workflows.validation import parameter_problems, validate_plan
    from workflows.waits import ROLLBACK_PATCH, WaitMirror


@workflow.defn
class OrchestrationWorkflow:
    def __init__(self) -> None:
        self._request: OrchestrationRequest | None = None
        self._status = RunStatus.PLANNING
        self._planned: PlanOutput | None = None
        # Seen by queries only: the run's commands never depend on it.
        self._refused_plan: Plan | None = None
        self._results: dict[str, StepResult] = {}
        self._undos: dict[str, Step] = {}
        self._compensations: dict[str, StepResult] = {}
        self._approvals = Approvals()
        self._preview: Preview | None = None
        # Why scheduling stopped (a failure, a rejection, a cancellation); None while
        # the run may still complete.
        self._stop: Problem | None = None
        self._problem: Problem | None = None
        self._finished_at: datetime | None = None
        self._search_attributes = False
        self._labelled = False
        # Follow-ups: those that added steps, steps the executor has yet to take,
        # how many are still being planned, and whether the executor has finished
        # (then nothing more can be added).
        self._extensions: list[Extension] = []
        self._added: list[Step] = []
        # Steps the executor has started (their task made): the others may still
        # be made to wait for what a follow-up adds.
        self._scheduled: set[str] = set()
        self._extending = 0
        self._closed = False
        self._wake: asyncio.Future[None] | None = None
        # Retries of an incomplete rollback asked for (`retry_rollback`), and made.
        self._retries_asked = 0
        self._retries_made = 0
        self._waits = WaitMirror(self._record)

    @workflow.run
    async def run(self, request: OrchestrationRequest) -> RunResult:
        self._request = request
        # Asked once, before the first await: a patch marker must sit at the same
        # point of the history on every replay.
        self._search_attributes = workflow.patched(sa.PATCH)
        try:
            self._planned = await self._plan(request)
        except asyncio.CancelledError:
            self._stop_with(ProblemKind.CANCELLED, "the run was cancelled while planning")
            return await self._finish(RunStatus.CANCELLED)
        if self._planned is None:
            return await self._finish(RunStatus.FAILED)
        plan = self._planned.plan
        self._results = {s.id: StepResult(step_id=s.id) for s in plan.steps}
        if request.dry_run:
            self._preview = preview(plan, self._planned.stats, self._planned.stage_overhead_ms)
            return await self._finish(RunStatus.COMPLETED)
        self._set_status(RunStatus.RUNNING)
        try:
            if not request.require_approval or await self._approved(PLAN):
                await self._execute(plan.steps, request.limits.max_parallel)
        except asyncio.CancelledError:
            self._stop_with(ProblemKind.CANCELLED, "the run was cancelled")
        if self._stop is None:
            await self._clean_up_skipped()
            return await self._finish(RunStatus.COMPLETED)
        undone = await self._rollback()
        # Asked only when an undo failed: other runs carry no marker.
        if not undone and workflow.patched(RETRY_INCOMPLETE_ROLLBACK):
            undone = await self._until_undone()
        if not undone:
            return await self._finish(RunStatus.ROLLBACK_FAILED)
        cancelled = self._stop.kind == ProblemKind.CANCELLED
        return await self._finish(RunStatus.CANCELLED if cancelled else RunStatus.ROLLED_BACK)

    @workflow.query
    def status(self) -> RunResult:
        return RunResult(
            workflow_id=workflow.info().workflow_id,
            status=self._told_status(),
            request=self._request.message if self._request else "",
            tenant=self._request.tenant if self._request else "default",
            plan=self._planned.plan if self._planned else None,
            steps=self._results,
            compensations=self._compensations,
            approvals=self._approvals.by_target,
            dry_run=self._request.dry_run if self._request else False,
            preview=self._preview,
            problem=self._problem or self._stop,
            started_at=workflow.info().start_time,
            finished_at=self._finished_at,
            follows=self._request.follows if self._request else None,
            context=self._request.context if self._request else [],
            answering=self._request.answering if self._request else None,
            extensions=self._extensions,
            refused_plan=self._refused_plan,
        )

    @workflow.update
    async def planned(self) -> RunResult:
        """Returns as soon as the plan is known (or planning failed)."""
        await workflow.wait_condition(lambda: self._status != RunStatus.PLANNING)
        return self.status()

    @workflow.update
    async def approve(self, decision: Decision) -> RunResult:
        return self._answer(decision, ApprovalStatus.APPROVED)

    @workflow.update
    async def reject(self, decision: Decision) -> RunResult:
        return self._answer(decision, ApprovalStatus.REJECTED)

    @approve.validator
    def _check_approve(self, decision: Decision) -> None:
        self._check_answer(decision)

    @reject.validator
    def _check_reject(self, decision: Decision) -> None:
        self._check_answer(decision)

    def _check_answer(self, decision: Decision) -> None:
        """Refuses (before it reaches the history) an answer to nothing pending,
        to an unknown step, or to an approval already answered."""
        try:
            self._approvals.target_of(decision, self._results.keys())
        except ApprovalRefused as refused:
            raise ApplicationError(str(refused), type="ApprovalRefused",
                                   non_retryable=True) from None

    def _answer(self, decision: Decision, status: ApprovalStatus) -> RunResult:
        target = self._approvals.target_of(decision)
        self._approvals.answer(target, status, workflow.now(), decision.by, decision.reason)
        return self.status()

    @workflow.update
    async def retry_rollback(self) -> RunResult:
        """Try again the undos that failed for good (their cause fixed, say); returns
        the run as that try left it: rolled back, or its rollback incomplete still."""
        self._retries_asked += 1
        asked = self._retries_asked
        await workflow.wait_condition(lambda: self._retries_made >= asked)
        return self.status()

    @retry_rollback.validator
    def _check_retry_rollback(self) -> None:
        if self._status != RunStatus.ROLLBACK_INCOMPLETE:
            raise ApplicationError(
                f"run {workflow.info().workflow_id} has no incomplete rollback to try "
                f"again: it is {self._told_status().value}",
                type="RetryRefused", non_retryable=True)
        if self._retries_asked > self._retries_made:
            raise ApplicationError(
                f"run {workflow.info().workflow_id} is already trying its undos again",
                type="RetryRefused", non_retryable=True)

    @workflow.update
    async def extend(self, followup: Followup) -> Extension:
        """Plan a follow-up message with the run's entities as its context and add
        its steps to the run; returns the steps added."""
        # Counted from acceptance: while a follow-up is being planned, the executor
        # waits for it rather than finishing (see `_execute`).
        self._extending += 1
        try:
            return await self._extend(followup.message.strip(), followup.key)
        finally:
            self._extending -= 1

    @extend.validator
    def _check_extend(self, followup: Followup) -> None:
        """Refuses a follow-up the run cannot take: the caller starts a new run."""
        refusal = self._extend_refusal(followup.message)
        if refusal is not None:
            raise ApplicationError(refusal, type="ExtendRefused", non_retryable=True)

    def _extend_refusal(self, message: str) -> str | None:
        if not message.strip():
            return "the follow-up message is empty"
        if self._request is not None and self._request.dry_run:
            return "a dry run runs nothing: there is nothing to add steps to"
        if self._stop is not None:
            return f"the run is stopping: {self._stop.message}"
        if self._closed or self._status not in (
            RunStatus.PLANNING, RunStatus.RUNNING, RunStatus.AWAITING_APPROVAL
        ):
            return f"the run has finished ({self._status.value}): nothing more can be added"
        return None

    async def _extend(self, message: str, key: str | None) -> Extension:
        await workflow.wait_condition(lambda: self._status != RunStatus.PLANNING)
        assert self._request is not None
        refusal = self._extend_refusal(message)
        if refusal is not None or self._planned is None:
            raise ApplicationError(refusal or "the run has no plan to add to",
                                   type="ExtendRefused", non_retryable=True)
        context = conversation_entities(
            self._planned.plan, self._results.values(), self._request.context
        )
        try:
            followup = await ask_for_plan(
                PlanInput(workflow_id=workflow.info().workflow_id, message=message,
                          context=context, making=made_by(self._planned), extension=True),
                self._request.plan_by_model, "plan a follow-up",
            )
        except (ActivityError, ApplicationError) as err:
            problem = planning_problem(err)
            raise ApplicationError(
                problem.message,
                {"understood": problem.understood, "not_understood": problem.not_understood},
                type="CannotPlan", non_retryable=True,
            ) from None
        # The run may have moved on while the follow-up was planned.
        refusal = self._extend_refusal(message)
        if refusal is not None:
            raise ApplicationError(refusal, type="ExtendRefused", non_retryable=True)
        try:
            merged, added = merge(
                self._planned, followup, wait_for_makers=workflow.patched(WAIT_FOR_MAKERS),
                not_started=self._not_started() if workflow.patched(PENDING_WAIT_FOR_ADDED)
                else (),
            )
        except PlanProblem as problem:
            raise ApplicationError(str(problem), type="InvalidPlan", non_retryable=True) from None
        problems = validate_plan(merged, self._request.limits)
        if problems:
            # The plan refused goes with the reasons, as a new run's does: what to cut.
            refused = [merged.plan.model_dump(mode="json")] if workflow.patched(
                REFUSED_PLAN_TOLD) else []
            raise ApplicationError(
                f"the follow-up's steps cannot be added: {'; '.join(problems)}", problems,
                *refused, type="InvalidPlan", non_retryable=True,
            )
        if not added:
            raise ApplicationError("the run already does everything the follow-up asks",
                                   type="NothingToAdd", non_retryable=True)
        self._planned = merged
        self._results.update((s.id, StepResult(step_id=s.id)) for s in added)
        extension = Extension(message=message, steps=added, added_at=workflow.now(), key=key)
        self._extensions.append(extension)
        # The added steps' nodes exist before the steps mirror their own states.
        await workflow.execute_local_activity_method(
            GraphActivities.record_run,
            RunRecord(workflow_id=workflow.info().workflow_id, request=self._request.message,
                      status=self._status, plan=merged.plan),
            summary="mirror the follow-up's steps", **mirror_options(),
        )
        self._added += added
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)
        return extension

    async def _plan(self, request: OrchestrationRequest) -> PlanOutput | None:
        try:
            plan = await ask_for_plan(
                PlanInput(workflow_id=workflow.info().workflow_id, message=request.message,
                          dry_run=request.dry_run, context=request.context,
                          answering=request.answering),
                request.plan_by_model, "plan the request",
            )
        except (ActivityError, ApplicationError) as err:
            if isinstance(err, ActivityError) and isinstance(err.cause, CancelledError):
                raise asyncio.CancelledError from err  # the run's cancel reached the model
            self._problem = planning_problem(err)
            return None
        problems = validate_plan(plan, request.limits)
        if problems:
            self._problem = Problem(
                kind=ProblemKind.INVALID_PLAN, message="the plan is not valid", details=problems
            )
            self._refused_plan = plan.plan
            return None
        return plan

    async def _approved(self, target: str) -> bool:
        """Wait for the answer to one approval; a timeout counts as a rejection."""
        assert self._request is not None
        self._approvals.request(target, workflow.now())
        self._refresh_status()
        self._waits.changed()
        try:
            await workflow.wait_condition(
                lambda: self._approvals.answered(target) or self._stop is not None,
                timeout=timedelta(seconds=self._request.approval_timeout_s),
                timeout_summary=f"approval of {target}",
            )
        except TimeoutError:
            self._approvals.answer(
                target, ApprovalStatus.TIMED_OUT, workflow.now(),
                reason=f"no answer within {self._request.approval_timeout_s} s",
            )
        if not self._approvals.answered(target):  # the run stopped while it waited
            self._approvals.answer(target, ApprovalStatus.WITHDRAWN, workflow.now(),
                                   reason="the run stopped")
        self._refresh_status()
        approval = self._approvals.by_target[target]
        if approval.status in (ApprovalStatus.REJECTED, ApprovalStatus.TIMED_OUT):
            why = f": {approval.reason}" if approval.reason else ""
            told = ("rejected" if approval.status == ApprovalStatus.REJECTED
                    else "not approved in time")
            self._stop_with(ProblemKind.REJECTED, f"{target} was {told}{why}")
        elif self._stop is None:
            self._waits.changed()
        return approval.status == ApprovalStatus.APPROVED

    async def _execute(self, steps: list[Step], max_parallel: int) -> None:
        """Ready-set scheduling: start every step whose dependencies are done."""
        by_id = {s.id: s for s in steps}
        pending = [i for stage in stages(steps) for i in stage]
        running: dict[str, asyncio.Task[None]] = {}
        try:
            # Steps a follow-up added count too: they may land as the last step ends.
            while pending or running or self._extending or self._added:
                self._admit(by_id, pending)
                if self._stop is None:
                    for step_id in list(pending):
                        if len(running) >= max_parallel:
                            break
                        if self._ready(by_id[step_id]):
                            pending.remove(step_id)
                            self._scheduled.add(step_id)
                            running[step_id] = asyncio.create_task(
                                self._run_step(by_id[step_id])
                            )
                if not running:
                    if self._stop is None and self._extending:
                        await self._follow_up_planned()
                        continue
                    break
                await workflow.wait([*running.values(), self._wakeup()],
                                    return_when=asyncio.FIRST_COMPLETED)
                for step_id in [i for i, task in running.items() if task.done()]:
                    running.pop(step_id).result()
        except asyncio.CancelledError:
            # Running steps get the cancellation; the run waits to learn which of
            # them finished anyway (those are compensated with the rest).
            self._stop_with(ProblemKind.CANCELLED, "the run was cancelled")
            for task in running.values():
                task.cancel()
            await asyncio.gather(*running.values(), return_exceptions=True)
            raise
        finally:
            self._closed = True

    def _admit(self, by_id: dict[str, Step], pending: list[str]) -> None:
        """Take the steps follow-ups added into the ready set, and the new
        dependencies they gave steps yet to start."""
        if not self._added:
            return
        for step in self._added:
            by_id[step.id] = step
            pending.append(step.id)
        self._added = []
        assert self._planned is not None
        for step in self._planned.plan.steps:
            if step.id in pending:
                by_id[step.id] = step

    def _not_started(self) -> set[str]:
        return {i for i, r in self._results.items()
                if r.status == StepStatus.PENDING and i not in self._scheduled}

    def _wakeup(self) -> asyncio.Future[None]:
        """Resolved when a follow-up adds steps, so the executor looks again."""
        if self._wake is None or self._wake.done():
            self._wake = asyncio.get_running_loop().create_future()
        return self._wake

    async def _follow_up_planned(self) -> None:
        """Nothing is left to run but a follow-up is being planned: its steps, when
        accepted, still run in this run (the run only closes after)."""
        await workflow.wait_condition(lambda: bool(self._added) or not self._extending)

    def _ready(self, step: Step) -> bool:
        done = (StepStatus.COMPLETED, StepStatus.SKIPPED)
        return all(self._results[d].status in done for d in step.depends_on)

    def _needs_approval(self, step: Step) -> bool:
        assert self._planned is not None
        # The workflow decides, not the planner: a sensitive capability always asks.
        return step.requires_approval or self._planned.capabilities[step.capability].sensitive

    async def _run_step(self, step: Step) -> None:
        result = self._results[step.id]
        try:
            if self._needs_approval(step):
                result.status = StepStatus.AWAITING_APPROVAL
                if not await self._approved(step.id):
                    result.status = StepStatus.CANCELLED
                    answer = self._approvals.by_target[step.id]
                    result.error = f"not approved ({answer.status.value}): {answer.reason}"
                    return
            result.status = StepStatus.RUNNING
            result.started_at = workflow.now()
            params = self._resolve(step)
            result.parameters = params
            output = await self._on_agents(step.model_copy(update={"parameters": params}), result)
        except asyncio.CancelledError:
            result.status, result.error = StepStatus.CANCELLED, "cancelled"
            result.finished_at = workflow.now()
            return
        except (ActivityError, PlanProblem) as err:
            if isinstance(err, ActivityError) and isinstance(err.cause, CancelledError):
                result.status, result.error = StepStatus.CANCELLED, "cancelled"
                result.finished_at = workflow.now()
                return
            attempt = self._cancel_timed_out(err)
            if attempt is not None:
                result.status, result.attempts = StepStatus.CANCELLED, attempt
                result.error = "cancelled (its worker stopped before the cancel reached it)"
                result.finished_at = workflow.now()
                return
            result.status = StepStatus.SKIPPED if step.optional else StepStatus.FAILED
            result.error, result.attempts = failure(err, self._agent(result.agent),
                                                    step.capability)
            result.finished_at = workflow.now()
            if not step.optional:
                self._stop_with(ProblemKind.STEP_FAILED, f"step {step.id} failed: {result.error}")
            return
        record_output(result, StepStatus.COMPLETED, output)

    async def _on_agents(self, step: Step, result: StepResult) -> StepOutput:
        """Run the step on its agent; when that one fails for good and another
        provides the capability, move the step to it, before any rollback."""
        agents = [step.agent, *step.fallbacks]
        for i, agent in enumerate(agents):
            started = workflow.now()
            result.agent = agent
            try:
                output = await self._call(step.model_copy(update={"agent": agent}))
            except ActivityError as err:
                if isinstance(err.cause, CancelledError) or self._cancel_timed_out(err) is not None:
                    raise  # not the agent's failure: no try of its own, no other agent
                message, attempts = failure(err, self._agent(agent), step.capability)
                result.tries.append(AgentTry(
                    agent=agent, ok=False, attempts=attempts, error=message,
                    duration_ms=ms_between(started, workflow.now()),
                ))
                if i == len(agents) - 1:
                    raise
                if self._stop is not None and workflow.patched(NO_FAILOVER_WHILE_STOPPING):
                    raise  # the run is stopping: no step starts on another agent
                continue
            result.tries.append(AgentTry(
                agent=agent, ok=True, attempts=output.attempt,
                duration_ms=ms_between(output.started_at, output.finished_at),
            ))
            return output
        raise AssertionError("unreachable: a step has at least one agent")

    def _cancel_timed_out(self, err: ActivityError | PlanProblem) -> int | None:
        """The attempt of a step cancelled as its worker died (it timed out after
        the cancel), which then counts as cancelled; None for any other failure."""
        if not isinstance(err, ActivityError):
            return None
        attempt = cancelled_attempt(err)
        # Asked only when it happens: other runs' histories carry no marker.
        if attempt is None or not workflow.patched(TIMED_OUT_AFTER_CANCEL):
            return None
        return attempt

    def _agent(self, agent_id: str | None) -> Agent | None:
        return self._planned.agents.get(agent_id or "") if self._planned else None

    async def _call(self, step: Step, undo: bool = False) -> StepOutput:
        """One agent call, with the agent's retries and timeouts; a quick read-only
        step on an agent seen to run it quickly runs as a local activity."""
        assert self._planned is not None
        local = (not undo and step.agent in step.quick_agents
                 and self._planned.capabilities[step.capability].read_only
                 # Asked only for such a step: other runs carry no marker.
                 and workflow.patched(QUICK_STEPS_LOCAL))
        return await call_agent(step, self._planned.agents[step.agent], undo=undo, local=local)

    def _resolve(self, step: Step) -> dict[str, Any]:
        """Resolve references to earlier outputs, then check the values against the
        schema (values without references were checked with the plan)."""
        assert self._planned is not None
        if not references(step.parameters):
            return step.parameters
        params: dict[str, Any] = resolve(step.parameters, self._outputs())
        schema = self._planned.capabilities[step.capability].input_schema
        problems = parameter_problems(schema, params, partial=False)
        if problems:
            raise PlanProblem(f"step {step.id}: {'; '.join(problems)}")
        return params

    def _outputs(self) -> dict[str, dict[str, Any]]:
        return {i: r.output for i, r in self._results.items() if r.output is not None}

    async def _rollback(self) -> bool:
        """Undo every completed step, dependents first, and clean up after those that
        started but did not complete; True if every undo worked."""
        assert self._planned is not None
        steps = self._planned.plan.steps
        completed = {i for i, r in self._results.items() if r.status == StepStatus.COMPLETED}
        left = self._left_behind()
        # Asked only when there is something to clean: runs without a failed step
        # carry no marker, and runs recorded before clean up nothing on replay.
        if left and not workflow.patched(CLEAN_UP_UNFINISHED):
            left = set()
        waiting = set(to_undo(steps, completed | left))
        if waiting:
            self._set_status(RunStatus.ROLLING_BACK)
            if workflow.patched(ROLLBACK_PATCH):  # the graph shows it while it runs
                self._waits.changed("the rollback starting")
        await self._undo_in_order(waiting, left)
        return all(r.status == StepStatus.COMPLETED for r in self._compensations.values())

    async def _until_undone(self) -> bool:
        """The rollback is incomplete: wait for a person to have the undos that failed
        tried again (`retry_rollback`), as often as they fail, each time up to the
        request's `rollback_retry_timeout_s`; True once every undo has worked. A
        cancel while waiting gives up: what was not undone stays."""
        assert self._request is not None and self._stop is not None
        wait = timedelta(seconds=self._request.rollback_retry_timeout_s)
        while True:
            failed = not_undone(self._compensations)
            told = final_problem(self._stop, RunStatus.ROLLBACK_FAILED, self._results,
                                 self._compensations, self._kept())
            assert told is not None
            self._problem = incomplete(told, workflow.info().workflow_id, workflow.now() + wait)
            self._left_unstarted()  # they never will
            self._set_status(RunStatus.ROLLBACK_INCOMPLETE)
            self._waits.changed("the rollback incomplete")
            try:
                await workflow.wait_condition(
                    lambda: self._retries_asked > self._retries_made, timeout=wait)
            except (TimeoutError, asyncio.CancelledError) as err:
                cancelled = isinstance(err, asyncio.CancelledError)
                # A retry asked for as the time ran out is still made.
                if cancelled or self._retries_asked == self._retries_made:
                    why = ("cancelled while waiting" if cancelled
                           else f"not asked within {self._request.rollback_retry_timeout_s} s")
                    told.details.append(f"the undos were not tried again: {why}")
                    self._problem = told
                    # A retry asked for with the cancel is answered with the run's end.
                    self._retries_made = self._retries_asked
                    return False
            self._problem = None
            self._set_status(RunStatus.ROLLING_BACK)
            self._waits.changed("the rollback tried again")
            # A step that did not complete is cleaned up after, its status kept.
            left = {i for i in failed if self._results[i].status
                    != StepStatus.COMPENSATION_FAILED}
            await self._undo_in_order(set(failed), left)
            if workflow.patched(RECHECK_WHAT_UNDOS_LEFT):
                stale = passed_to_undone(self._compensations, workflow.info().workflow_id)
                await self._undo_in_order(stale, set())
            self._retries_made = self._retries_asked
            if not not_undone(self._compensations):
                return True

    async def _clean_up_skipped(self) -> None:
        """A run that completes may still have optional steps that failed after
        writing: clean up after them (their undo touches only what they held)."""
        assert self._planned is not None
        left = self._left_behind()
        if left and workflow.patched(CLEAN_UP_UNFINISHED):
            await self._undo_in_order(set(to_undo(self._planned.plan.steps, left)), left)

    def _left_behind(self) -> set[str]:
        """Steps that started and did not complete (failed for good, cancelled, or
        skipped as optional) and whose undo touches only what that step held: it may
        have written before it failed (a crash after a side effect), and running it
        where the step wrote nothing changes nothing."""
        assert self._planned is not None
        unfinished = (StepStatus.FAILED, StepStatus.CANCELLED, StepStatus.SKIPPED)
        capabilities = self._planned.capabilities
        return {
            s.id for s in self._planned.plan.steps
            if self._results[s.id].status in unfinished and self._results[s.id].started_at
            and s.compensation is not None
            and cleans_up(s, capabilities[s.compensation.capability])
        }

    async def _undo_in_order(self, waiting: set[str], left: set[str]) -> None:
        assert self._planned is not None
        steps = self._planned.plan.steps
        by_id = {s.id: s for s in steps}
        running: dict[str, asyncio.Task[None]] = {}
        while waiting or running:
            for step_id in ready(steps, waiting | set(running)):
                if step_id in waiting:
                    waiting.remove(step_id)
                    running[step_id] = asyncio.create_task(
                        self._undo(by_id[step_id], cleanup=step_id in left))
            try:
                await workflow.wait(list(running.values()), return_when=asyncio.FIRST_COMPLETED)
            except asyncio.CancelledError:
                # A cancel asks the run to stop and undo what it did: that is what
                # it is doing. The undos (tasks of their own) go on, and so does
                # the rollback, so that nothing is left half undone.
                if not workflow.patched(ROLLBACK_OUTLIVES_CANCEL):
                    raise
                workflow.logger.info("cancel requested during the rollback: it goes on")
            for step_id in [i for i, task in running.items() if task.done()]:
                running.pop(step_id).result()

    async def _undo(self, step: Step, cleanup: bool = False) -> None:
        """Undo a completed step; with `cleanup`, one that did not complete, whose
        status then stays what it was (failed, cancelled, skipped)."""
        assert self._planned is not None
        undone = self._results[step.id]
        if not cleanup:
            undone.status = StepStatus.COMPENSATING
        earlier = self._compensations.get(step.id)
        result = self._compensations[step.id] = StepResult(
            step_id=step.id, status=StepStatus.RUNNING, started_at=workflow.now()
        )
        if earlier is not None and workflow.patched(UNDO_TRIES_KEPT):
            result.tries = list(earlier.tries)  # one a call of its agent, oldest first
        outputs = self._outputs()
        if cleanup:
            # No output to take the owner from: it is the step's key, as its agent
            # made it (`<workflow id>/<step id>`).
            outputs[step.id] = {"owner": f"{workflow.info().workflow_id}/{step.id}"}
        try:
            undo = undo_step(step, outputs, self._planned.agents, undone.agent)
            self._undos[step.id] = undo
            result.parameters, result.agent = undo.parameters, undo.agent
            output = await self._call(undo, undo=True)
        except (ActivityError, PlanProblem, LookupError) as err:
            result.status = StepStatus.FAILED
            called = self._undos.get(step.id)
            result.error, result.attempts = failure(
                err, self._agent(result.agent), called.capability if called else "")
            result.finished_at = now = workflow.now()
            if isinstance(err, ActivityError) and result.agent is not None:  # it was called
                result.tries.append(AgentTry(
                    agent=result.agent, ok=False, attempts=result.attempts, error=result.error,
                    duration_ms=ms_between(result.started_at or now, now),
                ))
            if not cleanup:
                undone.status = StepStatus.COMPENSATION_FAILED
            return
        record_output(result, StepStatus.COMPLETED, output)
        result.tries.append(AgentTry(agent=undo.agent, ok=True, attempts=output.attempt,
                                     duration_ms=ms_between(output.started_at,
                                                            output.finished_at)))
        if not cleanup:
            undone.status = StepStatus.COMPENSATED

    async def _mirror_finished(self, status: RunStatus) -> None:
        """The run's final mirror, its last word in the graph; a cancel arriving now
        (the run has finished) must not cut it off."""
        while True:
            try:
                # Local: the final mirror and the completion share one workflow task.
                await workflow.execute_local_activity_method(
                    GraphActivities.record_run, self._record(),
                    summary=f"mirror {status.value} run", **mirror_options(),
                )
                return
            except asyncio.CancelledError:
                if not workflow.patched(ROLLBACK_OUTLIVES_CANCEL):
                    raise

    def _kept(self) -> list[Step]:
        """Completed steps a rollback left as they were: they change something and
        nothing undoes them (a tool configured without a compensation)."""
        if self._planned is None:
            return []
        capabilities = self._planned.capabilities
        return [s for s in self._planned.plan.steps
                if self._results[s.id].status == StepStatus.COMPLETED
                and s.compensation is None and not capabilities[s.capability].read_only]

    def _left_unstarted(self) -> None:
        """Steps the run stopped before starting: not pending any more, but left
        (they would read as if something were still to happen)."""
        why = self._stop.message if self._stop is not None else "the run ended"
        for result in self._results.values():
            if result.status == StepStatus.PENDING:
                result.status, result.error = StepStatus.CANCELLED, f"not started: {why}"

    def _stop_with(self, kind: ProblemKind, message: str) -> None:
        """Stop scheduling and close pending approvals; the first reason is the one
        reported."""
        if self._stop is None:
            self._stop = Problem(kind=kind, message=message)
        self._approvals.withdraw_all(workflow.now(), reason=f"the run stopped: {message}")

    def _told_status(self) -> RunStatus:
        # Not set as `_status`: that is mirrored and searchable, and a new value
        # there would be a command that runs recorded before it do not have.
        stopping = self._stop is not None and self._finished_at is None
        if stopping and self._status in (RunStatus.RUNNING, RunStatus.AWAITING_APPROVAL):
            return RunStatus.STOPPING
        return self._status

    def _refresh_status(self) -> None:
        if self._status in (RunStatus.RUNNING, RunStatus.AWAITING_APPROVAL):
            waiting = bool(self._approvals.pending())
            self._set_status(RunStatus.AWAITING_APPROVAL if waiting else RunStatus.RUNNING)

    def _set_status(self, status: RunStatus) -> None:
        if status == self._status:
            return
        self._status = status
        if not self._search_attributes:
            return
        assert self._request is not None
        updates = [sa.STATUS.value_set(status.value)]
        if not self._labelled:  # tenant and intent do not change: set them once
            self._labelled = True
            updates.append(sa.TENANT.value_set(self._request.tenant))
            if self._planned is not None:
                updates.append(sa.INTENT.value_set(self._planned.plan.intent))
        workflow.upsert_search_attributes(updates)

    def _record(self) -> RunRecord:
        assert self._request is not None
        return run_record(
            workflow.info().workflow_id, self._request, self._status, self._problem,
            self._planned.plan if self._planned else None, self._results, self._undos,
            self._compensations, self._finished_at, workflow.info().start_time,
            waited=bool(self._approvals.by_target),
        )

    async def _finish(self, status: RunStatus) -> RunResult:
        self._problem = self._problem or final_problem(
            self._stop, status, self._results, self._compensations, self._kept()
        )
        self._set_status(status)
        self._finished_at = workflow.now()
        assert self._request is not None
        if status != RunStatus.COMPLETED and not self._request.dry_run:
            self._left_unstarted()
        run_ended(status, self._request.dry_run, self._problem)
        await self._waits.close()
        if not self._request.dry_run:
            await self._mirror_finished(status)
        # A caller waiting on `planned` gets its answer before the run closes.
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.status()
