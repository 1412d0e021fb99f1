"""The orchestrator's own metrics of steps, beside Temporal's worker metrics:
what a step ran (capability, agent, undo or not) and how it ended. Served by
Prometheus when a metrics port is set (worker/client.py); otherwise the meter
does nothing."""

from __future__ import annotations

import time
from datetime import timedelta

from temporalio import activity

STEPS = "orchestrator_steps"
STEP_DURATION = "orchestrator_step_duration"


def step_ended(capability: str, agent: str, undo: bool, outcome: str, started: float) -> None:
    """Count one try of a step; `started` is its `time.monotonic()` at the start."""
    meter = activity.metric_meter()
    labels: dict[str, str | int | float | bool] = {
        "capability": capability, "agent": agent, "undo": undo, "outcome": outcome}
    meter.create_counter(STEPS, "step tries, by how they ended").add(1, labels)
    meter.create_histogram_timedelta(STEP_DURATION, "how long a step try took").record(
        timedelta(seconds=time.monotonic() - started), labels)
