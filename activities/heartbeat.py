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
from collections.abc import AsyncIterator
from datetime import timedelta

from temporalio import activity

# How late a cancel may reach a running step (a tool cancelled mid-call is told so).
CANCEL_WITHIN = timedelta(seconds=1)


@contextlib.asynccontextmanager
async def heartbeating() -> AsyncIterator[None]:
    """Heartbeat every third of the activity's heartbeat timeout while the body runs."""
    timeout = activity.info().heartbeat_timeout
    if not timeout:
        yield
        return
    interval = max(min(timeout / 3, CANCEL_WITHIN), timedelta(milliseconds=50)).total_seconds()

    async def beat() -> None:
        # Not at once: most steps end well within the interval, and a heartbeat is
        # a call into the worker's core; Temporal times the first one from the start.
        while True:
            await asyncio.sleep(interval)
            activity.heartbeat()

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
