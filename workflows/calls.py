"""How a step's agent is called: as an activity, or, for a quick read-only step
(orchestrator/planning/quick.py), first as a local activity.

The local call is one try within LOCAL_WITHIN. When it does not end well (it
timed out: the tool stopped being quick; or it failed in a way worth trying
again), the step is made again as an activity, with the agent's own timeouts and
retries: retries never wait inside the workflow's task, queries are answered
meanwhile, and the step gets every try its agent's policy gives. Calling a
read-only step twice does no harm. A failure not worth trying again (a tool's
error, invalid arguments) ends the step as it would as an activity.

A local activity's failure reaches the workflow as the activity's own error, not
wrapped as an activity's is: it is wrapped here, so that the workflow reads a
step's failure one way however it ran.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, RetryState
from temporalio.exceptions import TimeoutError as ActivityTimeout
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from activities.steps import StepActivities
    from orchestrator.models import Agent, Step, StepInput, StepOutput

# Patch id: runs recorded before ran every step as an activity.
QUICK_STEPS_LOCAL = "quick-read-only-steps-local"
# How long a quick step's local try may take: a quick one takes a few ms, and
# queries (and a cancel) wait while it runs.
LOCAL_WITHIN = timedelta(seconds=2)
ONE_TRY = RetryPolicy(maximum_attempts=1)


async def call_agent(step: Step, agent: Agent, *, undo: bool = False,
                     local: bool = False) -> StepOutput:
    """One call of `agent` for `step` with the agent's retries and timeouts."""
    what = f"undo {step.id}" if undo else step.id
    summary = f"{what} · {step.capability} · {agent.id}"
    request = StepInput(workflow_id=workflow.info().workflow_id, step=step, undo=undo)
    if local:
        try:
            return await workflow.execute_local_activity_method(
                StepActivities.run_agent_step, request,
                start_to_close_timeout=min(_attempt_timeout(step, agent), LOCAL_WITHIN),
                retry_policy=ONE_TRY,
                cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
                summary=f"{summary} · local",
            )
        except ApplicationError as err:
            if err.non_retryable:
                raise ActivityError(
                    "local activity failed", scheduled_event_id=0, started_event_id=0,
                    identity="", activity_type="run_agent_step", activity_id="",
                    retry_state=RetryState.NON_RETRYABLE_FAILURE,
                ) from err
            workflow.logger.info("step %s failed as a local activity (%s): made again as "
                                 "an activity", step.id, err.message)
        except ActivityError as err:
            if not isinstance(err.cause, ActivityTimeout):
                raise
            workflow.logger.info("step %s took over %s as a local activity: made again "
                                 "as an activity", step.id, LOCAL_WITHIN)
    return await workflow.execute_activity_method(
        StepActivities.run_agent_step, request,
        start_to_close_timeout=_attempt_timeout(step, agent),
        heartbeat_timeout=(
            timedelta(milliseconds=agent.heartbeat_ms) if agent.heartbeat_ms else None
        ),
        retry_policy=_retry_policy(agent),
        # A cancelled step reports whether it stopped or finished anyway.
        cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        summary=summary,
    )


def _attempt_timeout(step: Step, agent: Agent) -> timedelta:
    return timedelta(milliseconds=agent.timeout_ms(step.capability))


def _retry_policy(agent: Agent) -> RetryPolicy:
    retry = agent.retry
    return RetryPolicy(
        initial_interval=timedelta(milliseconds=retry.initial_interval_ms),
        backoff_coefficient=retry.backoff,
        maximum_interval=timedelta(milliseconds=retry.max_interval_ms),
        maximum_attempts=retry.max_attempts,
    )

