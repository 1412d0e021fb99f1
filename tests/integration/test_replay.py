"""Golden histories replay against the current workflow code, and a change made
without `workflow.patched` is caught, at the event where it diverges."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory

from activities.steps import StepActivities
from orchestrator.models import (
    OrchestrationRequest,
    RunResult,
    RunStatus,
    Step,
    StepInput,
    StepOutput,
)
from worker.replay import replay
from workflows import search_attributes as sa
from workflows.orchestration import OrchestrationWorkflow

HISTORIES = {
    path.stem: path.read_text()
    for path in sorted((Path(__file__).parents[1] / "histories").glob("*.json"))
}
# Recorded before the workflow set search attributes (the change it patched).
BEFORE_PATCH = "s1-before-search-attributes"


def _history(name: str) -> WorkflowHistory:
    return WorkflowHistory.from_json(f"golden-{name}", HISTORIES[name])


@workflow.defn(name="OrchestrationWorkflow", sandboxed=False)
class UnpatchedWorkflow(OrchestrationWorkflow):
    """The search-attribute change as it would be written without `workflow.patched`."""

    @workflow.run
    async def run(self, request: OrchestrationRequest) -> RunResult:
        return await super().run(request)

    def _set_status(self, status: RunStatus) -> None:
        if status == self._status:
            return
        self._status = status
        assert self._request is not None
        workflow.upsert_search_attributes([sa.STATUS.value_set(status.value),
                                           sa.TENANT.value_set(self._request.tenant)])


def test_golden_histories_exist() -> None:
    assert set(HISTORIES) >= {"s1", "s5", "s7", "s7-before-approval-mirror", BEFORE_PATCH,
                              "mcp-quick-read"}


def test_the_quick_read_history_ran_its_step_as_a_local_activity() -> None:
    events = json.loads(HISTORIES["mcp-quick-read"])["events"]
    kinds = [e["eventType"].removeprefix("EVENT_TYPE_") for e in events]
    assert "ACTIVITY_TASK_SCHEDULED" not in kinds
    # Planned, run and mirrored within the run's one workflow task.
    assert kinds.count("WORKFLOW_TASK_COMPLETED") == 1
    types = [json.loads(base64.b64decode(e["markerRecordedEventAttributes"]["details"]["data"][
        "payloads"][0]["data"]))["activity_type"] for e in events
        if e["eventType"] == "EVENT_TYPE_MARKER_RECORDED"
        and e["markerRecordedEventAttributes"]["markerName"] == "core_local_activity"]
    assert types == ["plan_request", "run_agent_step", "record_run"]


@pytest.mark.parametrize("name", sorted(HISTORIES))
async def test_golden_history_replays(name: str) -> None:
    report = await replay(_history(name))
    assert report.ok, report.describe()


async def test_a_change_without_patched_is_caught_at_its_event() -> None:
    report = await replay(_history(BEFORE_PATCH), UnpatchedWorkflow)
    assert not report.ok
    assert report.event_id is not None, report.error
    assert report.describe().startswith(f"MISMATCH at event {report.event_id}")
    # The patched code replays the same history.
    assert (await replay(_history(BEFORE_PATCH))).ok


async def test_an_activity_that_does_not_match_is_named_at_its_event() -> None:
    # The history's first step scheduled under another activity type, as if the
    # code had renamed it since.
    saved = json.loads(HISTORIES["s1"])
    first = next(e for e in saved["events"]
                 if e["eventType"] == "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED")
    first["activityTaskScheduledEventAttributes"]["activityType"]["name"] = "renamed_step"
    report = await replay(WorkflowHistory.from_json("tampered", json.dumps(saved)))
    assert not report.ok
    assert (report.event_id, report.event_type) == (
        int(first["eventId"]), "ActivityTaskScheduled"), report.describe()
    assert "'renamed_step'" in (report.error or "")


@workflow.defn(name="OrchestrationWorkflow", sandboxed=False)
class ExtraStepWorkflow(OrchestrationWorkflow):
    """An activity added before each step, of the steps' own type, without
    `workflow.patched`: Temporal, comparing types, notices only events later."""

    @workflow.run
    async def run(self, request: OrchestrationRequest) -> RunResult:
        return await super().run(request)

    async def _call(self, step: Step, undo: bool = False) -> StepOutput:
        await workflow.execute_activity_method(
            StepActivities.run_agent_step,
            StepInput(workflow_id=workflow.info().workflow_id, step=step, undo=undo),
            start_to_close_timeout=timedelta(seconds=5), summary=f"extra {step.id}")
        return await super()._call(step, undo)


async def test_a_step_scheduled_otherwise_is_named_where_it_first_differs() -> None:
    saved = json.loads(HISTORIES["s1"])
    first = next(e for e in saved["events"]
                 if e["eventType"] == "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED")
    report = await replay(_history("s1"), ExtraStepWorkflow)
    assert not report.ok
    assert (report.event_id, report.event_type) == (
        int(first["eventId"]), "ActivityTaskScheduled"), report.describe()
    assert (report.error or "").startswith(
        "the history scheduled run_agent_step (create-application-ecommerce · "
        "application.create · application-agent) here; the code now schedules "
        "run_agent_step (extra create-application-ecommerce) (Temporal noticed at event ")


async def test_a_run_still_going_replays_as_far_as_it_has_got() -> None:
    saved = json.loads(HISTORIES["s1"])
    # The history as it was halfway: cut after a workflow task completed.
    completed = [i for i, e in enumerate(saved["events"])
                 if e["eventType"] == "EVENT_TYPE_WORKFLOW_TASK_COMPLETED"]
    saved["events"] = saved["events"][:completed[len(completed) // 2] + 1]
    report = await replay(WorkflowHistory.from_json("going", json.dumps(saved)))
    assert report.ok and not report.finished, report.describe()
    assert report.describe().endswith(
        "; the run is still going: replayed as far as it has got)")
    whole = await replay(_history("s1"))
    assert whole.finished and whole.describe().endswith(" events)")


async def test_a_run_whose_input_the_code_no_longer_reads_is_told_at_its_start() -> None:
    saved = json.loads(HISTORIES["s1"])
    payload = saved["events"][0]["workflowExecutionStartedEventAttributes"]["input"][
        "payloads"][0]
    request = json.loads(base64.b64decode(payload["data"]))
    # As a request model changed without a default for what old runs lack would see it.
    payload["data"] = base64.b64encode(json.dumps({**request, "limits": "many"}).encode()
                                       ).decode()
    report = await replay(WorkflowHistory.from_json("changed", json.dumps(saved)))
    assert not report.ok and report.event_id == 1, report.describe()
    assert report.describe().startswith(
        "MISMATCH at event 1 (WorkflowExecutionStarted): changed: the run's input does "
        "not fit this code's OrchestrationRequest (limits: Input should be an object)"
    ), report.describe()
