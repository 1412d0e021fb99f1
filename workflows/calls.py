"""How a step's agent is called: as an activity, or, for a quick read-only step
(orchestrator/planning/quick.py), as a local activity.

A local call that outlasts LOCAL_WITHIN (the tool stopped being quick, or its
server is down and its retries wait) is made again as an activity, with the
agent's own timeouts and retries: the workflow task is not held for it and
queries are answered meanwhile. Calling a read-only step twice does no harm.

A local activity's failure reaches the workflow as the activity's own error, not
wrapped as an activity's is: it is wrapped here, so that the workflow reads a
step's failure one way however it ran.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    RetryState,
    TimeoutType,
)
from temporalio.exceptions import (
    TimeoutError as ActivityTimeout,
)
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from activities.steps import StepActivities
    from orchestrator.models import Agent, Step, StepInput, StepOutput

# Patch id: runs recorded before ran every step as an activity.
QUICK_STEPS_LOCAL = "quick-read-only-steps-local"
# How long a quick step may take as a local activity, retries included, before it
# is made again as an activity: a quick one takes a few ms, and queries wait on it.
LOCAL_WITHIN = timedelta(seconds=2)
# A local retry waits on a workflow timer, not in the worker (see mirroring.py).
LOCAL_RETRY_THRESHOLD = timedelta(milliseconds=100)


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
                start_to_close_timeout=_attempt_timeout(step, agent),
                schedule_to_close_timeout=LOCAL_WITHIN,
                retry_policy=_retry_policy(agent),
                local_retry_threshold=LOCAL_RETRY_THRESHOLD,
                cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
                summary=f"{summary} · local",
            )
        except ApplicationError as err:
            raise ActivityError(
                "local activity failed", scheduled_event_id=0, started_event_id=0,
                identity="", activity_type="run_agent_step", activity_id="",
                retry_state=(RetryState.NON_RETRYABLE_FAILURE if err.non_retryable
                             else RetryState.MAXIMUM_ATTEMPTS_REACHED),
            ) from err
        except ActivityError as err:
            if not _out_of_local_time(err):
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


def _out_of_local_time(err: ActivityError) -> bool:
    """The local call ran out of LOCAL_WITHIN (not out of the agent's own timeout,
    which the activity would run out of too)."""
    cause = err.cause
    return isinstance(cause, ActivityTimeout) and cause.type == TimeoutType.SCHEDULE_TO_CLOSE
