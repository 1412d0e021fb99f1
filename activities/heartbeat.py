"""Heartbeats for long activities, from one context manager instead of by hand.

A heartbeat lets Temporal notice a dead worker within the heartbeat timeout
(rather than the whole start-to-close timeout) and lets cancellation reach the
activity.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

from temporalio import activity


@contextlib.asynccontextmanager
async def heartbeating() -> AsyncIterator[None]:
    """Heartbeat every third of the activity's heartbeat timeout while the body runs."""
    timeout = activity.info().heartbeat_timeout
    if not timeout:
        yield
        return
    interval = max(timeout / 3, timedelta(milliseconds=50)).total_seconds()

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
