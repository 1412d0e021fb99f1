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

from temporalio import activity

# Stop this long before Temporal's deadline: at most a second, at most a tenth of
# the timeout (a step allowed 2 s stops at 1.8 s).
MARGIN_S = 1.0
MARGIN_SHARE = 0.1


def seconds_left() -> float | None:
    """How long the attempt may run from now, its start in this worker; None without
    a start-to-close timeout. Timed from here rather than from the start the server
    recorded: the worker's clock need not agree with the server's, and the task
    reaches the worker moments after it started, well within the margin."""
    timeout = activity.info().start_to_close_timeout
    if not timeout:
        return None
    total = timeout.total_seconds()
    return max(0.0, total - min(MARGIN_S, MARGIN_SHARE * total))
