"""How a run asks for its plan (the run's own plan, and a follow-up's).

The rules plan in a few milliseconds: as a local activity, inside the run's first
workflow task, planning saves a round trip through the server before the first
step can start. A model plans in seconds, and may be tried three times (a minute
with the default timeout): inside the workflow task it held the task, and every
query of the run (status, `GET /v1/workflows/{id}`, `watch`) waited for it, up to
the task's heartbeat (8 s). So a run whose starter says a model plans it asks for
its plan as an activity of its own: the task ends at once and queries are answered
("planning"), the Web UI shows the planning with its attempts and last failure, a
cancel reaches the model's call through its heartbeats, and a worker that dies
while the model plans hands the plan to another within the heartbeat timeout.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from activities.planning import PlanningActivities
    from orchestrator.models import PlanInput, PlanOutput

PLAN_TIMEOUT = timedelta(minutes=2)
# Heartbeats go out every second while a model plans (activities/heartbeat.py).
PLAN_HEARTBEAT = timedelta(seconds=10)
QUICK_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_attempts=3)
# Patch id: runs planned by a model before planned inside their workflow task.
BY_ACTIVITY = "model-plans-as-activity"


async def ask_for_plan(plan_input: PlanInput, by_model: bool, summary: str) -> PlanOutput:
    """The plan for `plan_input`; `by_model`: a model plans it (seconds, not ms).

    A failure arrives as the activity's ApplicationError from a local activity,
    and as an ActivityError with it as the cause from an activity."""
    # Asked only for runs a model plans: the rules' runs carry no marker.
    if by_model and workflow.patched(BY_ACTIVITY):
        return await workflow.execute_activity_method(
            PlanningActivities.plan_request, plan_input,
            start_to_close_timeout=PLAN_TIMEOUT, heartbeat_timeout=PLAN_HEARTBEAT,
            retry_policy=QUICK_RETRY, summary=summary,
            # The run ends once the model's call has stopped, not while it goes on.
            cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )
    return await workflow.execute_local_activity_method(
        PlanningActivities.plan_request, plan_input,
        start_to_close_timeout=PLAN_TIMEOUT, retry_policy=QUICK_RETRY, summary=summary,
    )
