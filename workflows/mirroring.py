"""How the workflow's graph mirrors (local activities) are called.

Mirroring must never fail a run: it retries until the graph takes the write. A
retry that waits in the worker keeps the workflow task open, and the SDK keeps
retrying a local activity even once its worker is asked to stop: while the
graph was down, a worker shutting down waited for the graph forever, and every
query waited for the task's 8 s heartbeat. So a retry waits on a workflow timer
instead: the task ends between tries, the worker may stop once the try under way
ends (the run goes on on another worker, or on this one restarted) and queries
are answered at once.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

TIMEOUT = timedelta(seconds=30)
RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=10)
)
# Retries waiting longer than this wait on a timer (the SDK's default is a minute):
# shorter than the first retry's wait, so that none stays in the worker.
LOCAL_RETRY_THRESHOLD = timedelta(milliseconds=100)
# Patch id: runs recorded before retried every mirror in the worker.
RETRY_BY_TIMER = "mirror-retries-by-timer"


def mirror_options() -> dict[str, Any]:
    """The keyword arguments of a mirror's `execute_local_activity` call."""
    threshold = LOCAL_RETRY_THRESHOLD if workflow.patched(RETRY_BY_TIMER) else None
    return {"start_to_close_timeout": TIMEOUT, "retry_policy": RETRY,
            "local_retry_threshold": threshold}
