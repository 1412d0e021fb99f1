"""Replay debugging: run a recorded history against the current workflow code.

The answer is OK, or the first event where the code and the history disagree,
which is where a change to the workflow needs `workflow.patched`: Temporal's
finding, or, earlier, the first step activity the code schedules otherwise than
the history recorded (replay_steps.py).
"""

from __future__ import annotations

import functools
import itertools
import json
import re
from pathlib import Path

from google.protobuf import json_format
from pydantic import ValidationError
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Replayer

from orchestrator.errors import InvalidInput
from orchestrator.models import Model
from worker.replay_results import told, unreadable_result
from worker.replay_steps import ScheduledSteps
from workflows.orchestration import OrchestrationWorkflow

_EVENT_ID = re.compile(r"(?:event[_ ]id|HistoryEvent\(id|id)[:=]\s*(\d+)", re.IGNORECASE)


_CLOSED = frozenset({
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
})
_CORE_MESSAGE = re.compile(r'message: "([^"]+)"')
_SCHEDULED_AS = re.compile(r"scheduled event '([^']+)'")


class ReplayReport(Model):
    workflow_id: str
    ok: bool
    events: int
    # The first event that disagrees (id and type), when one is named.
    event_id: int | None = None
    event_type: str | None = None
    error: str | None = None

    # Whether the history ends with the run's end: a run still going replays as far
    # as it has got.
    finished: bool = True

    def describe(self) -> str:
        if self.ok:
            going = "" if self.finished else (
                "; the run is still going: replayed as far as it has got")
            return f"OK: {self.workflow_id} replays ({self.events} events{going})"
        where = (f" at event {self.event_id} ({self.event_type})"
                 if self.event_id is not None else "")
        return f"MISMATCH{where}: {self.workflow_id}: {self.error}"


async def replay(
    history: WorkflowHistory, workflow: type = OrchestrationWorkflow
) -> ReplayReport:
    events = list(history.events)
    started = events[0].workflow_execution_started_event_attributes if events else None
    expected = _workflow_name(workflow)
    if started is not None and started.workflow_type.name not in ("", expected):
        raise InvalidInput(f"{history.workflow_id} is a run of {started.workflow_type.name!r}, "
                           f"not of {expected!r}: it has nothing to replay here")
    unreadable = _unreadable_input(events[0], workflow) if events else None
    if unreadable is not None:
        # The SDK would fail the first activation with a traceback and "Failed
        # decoding arguments"; what does not fit is the useful part.
        return ReplayReport(workflow_id=history.workflow_id, ok=False, events=len(events),
                            event_id=1, event_type="WorkflowExecutionStarted",
                            error=unreadable, finished=events[-1].event_type in _CLOSED)
    steps = ScheduledSteps()
    replayer = Replayer(workflows=[workflow], data_converter=pydantic_data_converter,
                        interceptors=[steps], runtime=_quiet_runtime())
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    report = ReplayReport(workflow_id=history.workflow_id, ok=result.replay_failure is None,
                          events=len(events),
                          finished=bool(events) and events[-1].event_type in _CLOSED)
    if result.replay_failure is None:
        return report
    error = str(result.replay_failure)
    # The core's own sentence is the useful part of a long failure dump.
    core = _CORE_MESSAGE.search(error)
    error = core.group(1) if core else error
    found = _EVENT_ID.search(error)
    event_id = int(found.group(1)) if found else _scheduled_event(error, events)
    parting = steps.parting(events)
    if parting is not None and (event_id is None or parting.event_id < event_id):
        # Earlier than Temporal could tell: its finding follows, for the record.
        noticed = f" at event {event_id}" if event_id is not None else ""
        error = (f"the history scheduled {parting.recorded} here; the code now schedules "
                 f"{parting.scheduled} (Temporal noticed{noticed}: {error})")
        event_id = parting.event_id
    types = {e.event_id: e.event_type for e in events}
    event_type = None
    if event_id in types:
        event_type = _event_label(types[event_id])
    return report.model_copy(update={"error": error, "event_id": event_id,
                                     "event_type": event_type})


async def fetch(client: Client, workflow_id: str) -> WorkflowHistory:
    try:
        return await client.get_workflow_handle(workflow_id).fetch_history()
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        raise InvalidInput(f"no workflow {workflow_id!r} on the Temporal server at "
                           f"{client.service_client.config.target_host}") from err


def load(path: Path) -> WorkflowHistory:
    try:
        # A byte order mark some editors add is no reason to refuse the file.
        text = path.read_text(encoding="utf-8-sig")
    except OSError as err:
        raise InvalidInput(f"cannot read the history file {path}: {err.strerror}") from err
    except UnicodeDecodeError as err:
        raise InvalidInput(f"{path} is not a workflow history saved as JSON (it is not "
                           f"UTF-8 text: {err.reason} at byte {err.start})") from err
    try:
        history = WorkflowHistory.from_json(path.stem, text)
    except (ValueError, json_format.ParseError) as err:  # not JSON, or not a history's
        raise InvalidInput(f"{path} is not a workflow history saved as JSON "
                           f"(orchestrator history <id> --out {path.name}): {err}") from err
    events = list(history.events)
    first = events[0] if events else None
    # The SDK's core panics on a history that does not open with the run's start
    # (and the command then hangs): told here instead.
    if first is None or first.event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
        found = "it has no events" if first is None else f"not {_event_label(first.event_type)}"
        raise InvalidInput(
            f"{path} does not hold a whole workflow history: its first event must be the "
            f"run's start (WorkflowExecutionStarted), {found} "
            f"(orchestrator history <id> --out {path.name} saves one)")
    if first.event_id != 1:
        raise InvalidInput(f"{path} is damaged: its first event is numbered {first.event_id}, "
                           f"not 1 (orchestrator history <id> --out {path.name} saves a "
                           "whole one)")
    gap = next((a for a, b in itertools.pairwise(events) if b.event_id != a.event_id + 1), None)
    if gap is not None:
        # Replayed, it would read as a change of the code ("out of order").
        after = events[events.index(gap) + 1].event_id
        raise InvalidInput(f"{path} is damaged: its events jump from {gap.event_id} to "
                           f"{after} (orchestrator history <id> --out {path.name} saves a "
                           "whole one)")
    untyped = next((e for e in events if not _typed(e)), None)
    if untyped is not None:
        # Replayed, the core would report it as a code change, in a Rust debug dump.
        raise InvalidInput(f"{path} is damaged: event {untyped.event_id} has no known type "
                           f"or not its type's attributes (orchestrator history <id> --out "
                           f"{path.name} saves a whole one)")
    unreadable = unreadable_result(events)
    if unreadable is not None:
        # Replayed, the SDK would fail to decode it: a code change, and a traceback.
        event_id, problem = unreadable
        raise InvalidInput(f"{path} is damaged: event {event_id} (ActivityTaskCompleted): "
                           f"{problem}")
    started = first.workflow_execution_started_event_attributes
    if not started.original_execution_run_id:
        raise InvalidInput(f"{path}: the run's start event has no run id "
                           "(originalExecutionRunId); replay needs it")
    # The run's own id, as its start records it (servers since 1.24 do); the file's
    # name otherwise.
    if started.workflow_id:
        return WorkflowHistory(started.workflow_id, events)
    return history


def _unreadable_input(first: HistoryEvent, workflow: type) -> str | None:
    """Why the run's recorded input does not fit the workflow's parameters now, if
    it does not: a model changed so that old runs' inputs no longer read."""
    types = getattr(_definition(workflow), "arg_types", None)
    payloads = list(first.workflow_execution_started_event_attributes.input.payloads)
    if not types or not payloads:
        return None
    for payload in payloads:
        if payload.metadata.get("encoding") == b"json/plain":
            try:
                json.loads(payload.data)
            except ValueError as err:
                # No code wrote that: the history itself is damaged.
                raise InvalidInput(f"the run's input (event 1) is not the JSON it says it "
                                   f"is ({err}): the history is damaged") from err
    try:
        pydantic_data_converter.payload_converter.from_payloads(payloads, type_hints=types)
    except (ValueError, RuntimeError) as err:
        cause = err if isinstance(err, ValidationError) else err.__cause__
        what = told(cause, "the input") if isinstance(cause, ValidationError) else str(err)
        return (f"the run's input does not fit this code's {types[0].__name__} ({what}): "
                "a change to it must keep what earlier runs recorded readable (a new field "
                "needs a default)")
    return None


def _typed(event: HistoryEvent) -> bool:
    """Whether the event has a known type and that type's attributes (the type
    EVENT_TYPE_TIMER_FIRED goes with timer_fired_event_attributes), and an activity
    scheduled names its type."""
    if event.event_type == EventType.EVENT_TYPE_UNSPECIFIED:
        return False
    name = EventType.Name(event.event_type)
    attributes = name.removeprefix("EVENT_TYPE_").lower() + "_event_attributes"
    if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED and not (
        event.activity_task_scheduled_event_attributes.activity_type.name
    ):
        return False
    return event.WhichOneof("attributes") == attributes


def _workflow_name(workflow: type) -> str:
    """The name the workflow class runs under (its `@workflow.defn`)."""
    return str(getattr(_definition(workflow), "name", workflow.__name__))


def _definition(workflow: type) -> object:
    """What `@workflow.defn` recorded of the class (its name, its parameters' types)."""
    return getattr(workflow, "__temporal_workflow_definition", None)


@functools.cache
def _quiet_runtime() -> Runtime:
    """A runtime whose core says nothing below an error: on a mismatch it would print
    its own warning (in colour, to the terminal) before the report, which says it."""
    quiet = TelemetryFilter(core_level="ERROR", other_level="ERROR")
    return Runtime(telemetry=TelemetryConfig(logging=LoggingConfig(filter=quiet)))


def _scheduled_event(error: str, events: list[HistoryEvent]) -> int | None:
    """The event an activity mismatch names by its type, not its id ("Activity type
    of scheduled event 'x' does not match ..."): the first scheduled as 'x'."""
    named = _SCHEDULED_AS.search(error)
    if named is None:
        return None
    return next((e.event_id for e in events
                 if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
                 and e.activity_task_scheduled_event_attributes.activity_type.name
                 == named.group(1)), None)


def _event_label(value: int) -> str:
    """"EVENT_TYPE_ACTIVITY_TASK_SCHEDULED" reads better as "ActivityTaskScheduled"."""
    raw = EventType.Name(value).removeprefix("EVENT_TYPE_")  # type: ignore[arg-type]
    return "".join(part.capitalize() for part in raw.split("_"))
