"""Which attempt a step was on when it timed out after its cancel was asked."""

from __future__ import annotations

from typing import Any

from temporalio.exceptions import ActivityError, RetryState, TimeoutType
from temporalio.exceptions import TimeoutError as ActivityTimeout

from workflows.outcomes import cancelled_attempt


def _timed_out(retry_state: RetryState, *details: Any) -> ActivityError:
    err = ActivityError("activity error", scheduled_event_id=5, started_event_id=6,
                        identity="w", activity_type="run_agent_step", activity_id="1",
                        retry_state=retry_state)
    err.__cause__ = ActivityTimeout("activity Heartbeat timeout", type=TimeoutType.HEARTBEAT,
                                    last_heartbeat_details=details)
    return err


def test_the_attempt_comes_from_the_last_heartbeat() -> None:
    beat = {"step": "s", "undo": False, "attempt": 3}
    assert cancelled_attempt(_timed_out(RetryState.CANCEL_REQUESTED, beat)) == 3


def test_a_step_that_never_heartbeat_had_still_started_once() -> None:
    assert cancelled_attempt(_timed_out(RetryState.CANCEL_REQUESTED)) == 1


def test_a_timeout_of_its_own_is_not_a_cancel() -> None:
    assert cancelled_attempt(_timed_out(RetryState.MAXIMUM_ATTEMPTS_REACHED)) is None
    assert cancelled_attempt(_timed_out(RetryState.TIMEOUT, {"attempt": 2})) is None
