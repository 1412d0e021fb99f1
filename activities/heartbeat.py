"""Heartbeats for long activities, from one context manager instead of by hand.

A heartbeat lets Temporal notice a dead worker within the heartbeat timeout
(rather than the whole start-to-close timeout) and lets cancellation reach the
activity: a cancel arrives with the answer to a heartbeat, so a step heartbeats
at least every `CANCEL_WITHIN` (and the worker sends them that often:
worker/runtime.py), and a cancelled step stops within about that.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from temporalio import activity

from orchestrator.graph.batching import stop

# How late a cancel may reach a running step (a tool cancelled mid-call is told so).
CANCEL_WITHIN = timedelta(seconds=1)


# Which step the current activity runs ({"step": id, "undo": bool}, and the last
# progress), carried by every heartbeat: the API reads a running step's attempt and
# progress from Temporal's pending activities, which name no step otherwise.
STEP: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "step", default=None)


def beat(**progress: Any) -> None:
    """One heartbeat, naming the step and the progress its tool last reported (each
    heartbeat replaces the one before in Temporal's view, so each carries it)."""
    step = STEP.get()
    if step is None:
        activity.heartbeat(progress)
        return
    step.update(progress)
    activity.heartbeat(dict(step))


@contextlib.asynccontextmanager
async def heartbeating(step: dict[str, Any] | None = None) -> AsyncIterator[None]:
    """Heartbeat every third of the activity's heartbeat timeout while the body runs;
    a retry at once, so that it shows while it runs."""
    token = STEP.set(step)
    timeout = activity.info().heartbeat_timeout
    task: asyncio.Task[None] | None = None
    if timeout:
        interval = max(min(timeout / 3, CANCEL_WITHIN), timedelta(milliseconds=50))
        if activity.info().attempt > 1:
            beat()
        task = asyncio.create_task(_beats(interval.total_seconds()))
    try:
        yield
    finally:
        STEP.reset(token)
        await stop(task)


async def _beats(interval: float) -> None:
    # Not at once: most steps end well within the interval, and a heartbeat is a
    # call into the worker's core; Temporal times the first one from the start.
    while True:
        await asyncio.sleep(interval)
        beat()
