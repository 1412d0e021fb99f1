"""Step results in a saved history that the code cannot read back.

A step activity's result (its ActivityTaskCompleted payload) is a StepOutput the
worker wrote. One that is not JSON, or not a StepOutput, makes the SDK fail its
activation with "Failed decoding arguments", which replay would report as a
change of the code; it is the file that is wrong, and the event can be named.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from pydantic import ValidationError
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.contrib.pydantic import pydantic_data_converter

from activities.steps import StepActivities
from orchestrator.models import StepOutput

# The name step activities are scheduled under, as their `@activity.defn` records it.
STEP_ACTIVITY = str(getattr(
    getattr(StepActivities.run_agent_step, "__temporal_activity_definition", None), "name",
    StepActivities.run_agent_step.__name__))


def told(error: ValidationError, whole: str) -> str:
    """A validation error in one line: each field that does not fit (`whole` for
    the value itself), and why."""
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or whole}: {e['msg']}"
                     for e in error.errors())


def unreadable_result(events: Sequence[HistoryEvent]) -> tuple[int, str] | None:
    """The first completed step activity whose result cannot be read as a
    StepOutput: its event id and what is wrong with it."""
    steps = {e.event_id for e in events
             if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
             and e.activity_task_scheduled_event_attributes.activity_type.name == STEP_ACTIVITY}
    for event in events:
        if event.event_type != EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            continue
        completed = event.activity_task_completed_event_attributes
        if completed.scheduled_event_id not in steps:
            continue
        for payload in completed.result.payloads:
            problem = _problem(payload)
            if problem is not None:
                return event.event_id, problem
    return None


def _problem(payload: Payload) -> str | None:
    if payload.metadata.get("encoding") == b"json/plain":
        try:
            json.loads(payload.data)
        except ValueError as err:
            return f"its step result is not JSON ({err})"
    try:
        pydantic_data_converter.payload_converter.from_payloads(
            [payload], type_hints=[StepOutput])
    except (ValueError, RuntimeError) as err:
        cause = err if isinstance(err, ValidationError) else err.__cause__
        why = told(cause, "the result") if isinstance(cause, ValidationError) else str(err)
        # A change to StepOutput that old results no longer fit reads the same.
        return (f"its step result does not fit StepOutput ({why}; or StepOutput has "
                "changed so that results recorded earlier no longer read)")
    return None
