"""`replay --file` reads a saved history, and refuses one the replayer cannot take
(the SDK's core panics on it, and the command would then hang)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from orchestrator.errors import InvalidInput
from worker.replay import load, replay

GOLDEN = Path(__file__).parents[1] / "histories" / "s1.json"


def _written(tmp_path: Path, saved: object) -> Path:
    """A history file holding `saved` (a golden history, spoilt as a test needs)."""
    path = tmp_path / "h.json"
    path.write_text(json.dumps(saved))
    return path


def test_a_saved_history_loads_under_its_runs_id() -> None:
    saved = json.loads(GOLDEN.read_text())["events"]
    history = load(GOLDEN)
    started = saved[0]["workflowExecutionStartedEventAttributes"]
    assert history.workflow_id == started.get("workflowId", GOLDEN.stem)
    assert len(list(history.events)) == len(saved)


@pytest.mark.parametrize(("events", "says"), [
    ([], "first event must be the run's start (WorkflowExecutionStarted), it has no events"),
    ([{"eventId": "1"}], "not Unspecified"),
    ([{"eventId": "1", "eventType": "EVENT_TYPE_WORKFLOW_TASK_SCHEDULED"}],
     "not WorkflowTaskScheduled"),
    ([{"eventId": "1", "eventType": "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED",
       "workflowExecutionStartedEventAttributes": {"workflowType": {"name": "X"}}}],
     "has no run id"),
])
def test_a_history_not_opening_with_the_runs_start_is_refused(
    tmp_path: Path, events: list[dict[str, object]], says: str
) -> None:
    path = tmp_path / "h.json"
    path.write_text(json.dumps({"events": events}))
    with pytest.raises(InvalidInput, match=r"h\.json") as refused:
        load(path)
    assert says in str(refused.value)


def test_a_history_with_events_missing_is_told_damaged_not_a_code_change(
    tmp_path: Path
) -> None:
    saved = json.loads(GOLDEN.read_text())
    del saved["events"][10:12]  # events 11 and 12
    path = _written(tmp_path, saved)
    with pytest.raises(InvalidInput) as refused:
        load(path)
    assert "h.json is damaged: its events jump from 10 to 13" in str(refused.value)


async def test_a_mismatch_is_reported_without_the_cores_own_warning(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """The report says it; the core's coloured WARN line before it only repeated it."""
    saved = json.loads(GOLDEN.read_text())
    scheduled = next(e for e in saved["events"]
                     if e.get("eventType") == "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED")
    scheduled["activityTaskScheduledEventAttributes"]["activityType"]["name"] = "other"
    path = _written(tmp_path, saved)
    report = await replay(load(path))
    assert not report.ok and report.event_id == int(scheduled["eventId"])
    printed = capfd.readouterr()
    assert "WARN" not in printed.out + printed.err, printed


def test_a_history_numbered_from_elsewhere_is_told_damaged(tmp_path: Path) -> None:
    saved = json.loads(GOLDEN.read_text())
    for event in saved["events"]:
        event["eventId"] = str(int(event["eventId"]) + 100)
    path = _written(tmp_path, saved)
    with pytest.raises(InvalidInput, match=r"h\.json is damaged: its first event is numbered 101"):
        load(path)


async def test_a_run_of_another_workflow_is_not_replayed_as_a_mismatch(tmp_path: Path) -> None:
    saved = json.loads(GOLDEN.read_text())
    saved["events"][0]["workflowExecutionStartedEventAttributes"]["workflowType"]["name"] = "Nope"
    path = _written(tmp_path, saved)
    with pytest.raises(InvalidInput, match="is a run of 'Nope', not of 'OrchestrationWorkflow'"):
        await replay(load(path))


@pytest.mark.parametrize(("event_type", "attributes_kept"), [
    ("EVENT_TYPE_UNSPECIFIED", True),
    ("EVENT_TYPE_TIMER_FIRED", True),  # another type's attributes
    ("EVENT_TYPE_TIMER_FIRED", False),  # none
])
def test_an_event_of_no_known_type_is_told_damaged_not_a_code_change(
    tmp_path: Path, event_type: str, attributes_kept: bool
) -> None:
    saved = json.loads(GOLDEN.read_text())
    event = saved["events"][5]
    event["eventType"] = event_type
    if not attributes_kept:
        for key in [k for k in event if k.endswith("EventAttributes")]:
            del event[key]
    path = _written(tmp_path, saved)
    with pytest.raises(InvalidInput, match=r"h\.json is damaged: event 6 has no known type"):
        load(path)


def test_a_history_saved_with_a_byte_order_mark_loads(tmp_path: Path) -> None:
    path = tmp_path / "h.json"
    path.write_bytes(b"\xef\xbb\xbf" + GOLDEN.read_bytes())
    assert len(list(load(path).events)) == len(json.loads(GOLDEN.read_text())["events"])


def test_a_file_that_is_not_a_history_in_its_bytes_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "h.json"
    path.write_bytes(b"\xff\xfe{not utf-8")
    with pytest.raises(InvalidInput, match=r"h\.json is not a workflow history saved as JSON "
                                           r"\(it is not UTF-8 text"):
        load(path)
    for spoil in ({"eventId": "abc"}, {"workflowExecutionStartedEventAttributes": {
            "input": {"payloads": [{"data": "not base64 !"}]}}}):
        saved = json.loads(GOLDEN.read_text())
        saved["events"][0].update(spoil)
        path.write_text(json.dumps(saved))
        with pytest.raises(InvalidInput, match=r"h\.json is not a workflow history saved as"):
            load(path)


def test_an_activity_scheduled_without_its_type_is_told_damaged(tmp_path: Path) -> None:
    saved = json.loads(GOLDEN.read_text())
    scheduled = next(e for e in saved["events"]
                     if e["eventType"] == "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED")
    scheduled["activityTaskScheduledEventAttributes"] = {}
    path = _written(tmp_path, saved)
    with pytest.raises(InvalidInput, match=f"h\\.json is damaged: event {scheduled['eventId']}"):
        load(path)


async def test_a_run_input_that_is_not_json_is_told_damaged(tmp_path: Path) -> None:
    saved = json.loads(GOLDEN.read_text())
    payload = saved["events"][0]["workflowExecutionStartedEventAttributes"]["input"][
        "payloads"][0]
    payload["data"] = base64.b64encode(b"{not json").decode()
    path = _written(tmp_path, saved)
    with pytest.raises(InvalidInput, match=r"the run's input \(event 1\) is not the JSON it "
                                           r"says it is .*: the history is damaged"):
        await replay(load(path))


@pytest.mark.parametrize(("data", "says"), [
    (b"{not json", "its step result is not JSON"),
    (b'{"output": {}, "started_at": "yesterday"}',
     "its step result does not fit StepOutput (started_at: Input should be a valid datetime"),
])
def test_a_step_result_that_cannot_be_read_is_told_damaged_not_a_code_change(
    tmp_path: Path, data: bytes, says: str
) -> None:
    saved = json.loads(GOLDEN.read_text())
    completed = next(e for e in saved["events"]
                     if e["eventType"] == "EVENT_TYPE_ACTIVITY_TASK_COMPLETED")
    completed["activityTaskCompletedEventAttributes"]["result"]["payloads"][0]["data"] = (
        base64.b64encode(data).decode())
    path = _written(tmp_path, saved)
    with pytest.raises(InvalidInput) as refused:
        load(path)
    told = str(refused.value)
    assert f"h.json is damaged: event {completed['eventId']} (ActivityTaskCompleted): " in told
    assert says in told
