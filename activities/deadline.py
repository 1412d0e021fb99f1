"""An attempt stops itself before Temporal gives it up.

When an attempt outlives its start-to-close timeout, Temporal records it as timed
out and goes on: it retries the step, or the run rolls back and undoes it. The
attempt itself runs on in the worker until the worker hears of it (seconds
later, at its next heartbeat), and an agent that writes meanwhile (a service
created after a slow call) writes after its step was undone: an orphan the
rollback reported removed. Stopping the agent's call a little before Temporal's
deadline closes that window: the attempt fails as timed out, and nothing it
would have done after comes to be.
"""

from __future__ import annotations

from datetime import UTC, datetime

from temporalio import activity

# Stop this long before Temporal's deadline: at most a second, at most a tenth of
# the timeout (a step allowed 2 s stops at 1.8 s).
MARGIN_S = 1.0
MARGIN_SHARE = 0.1


def seconds_left() -> float | None:
    """How long the attempt may still run; None without a start-to-close timeout."""
    info = activity.info()
    timeouts = [t.total_seconds() for t in (info.start_to_close_timeout,) if t]
    if not timeouts:
        return None
    total = min(timeouts)
    # Timed from the attempt's start as the server recorded it.
    elapsed = max(0.0, (datetime.now(UTC) - info.started_time).total_seconds())
    return max(0.0, total - elapsed - min(MARGIN_S, MARGIN_SHARE * total))
