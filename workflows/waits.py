"""The graph's view of a run waiting for a person, or rolling back.

While a run waits for an approval no step activity runs, and steps are what
mirror a run as it goes: without this the graph showed a run waiting for an
answer as `running`, its waiting steps as `pending`. So a request for an
approval, and its answer, are mirrored by the workflow (a local activity),
under a patch: runs recorded before it replay without these activities. So is
the start of a rollback (another patch): the undos mirror themselves, not the
run, which the graph showed as it was before (waiting for the approval whose
rejection started the rollback) until the rollback's end.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.graph import GraphActivities
    from orchestrator.models import RunRecord
    from workflows.mirroring import mirror_options

PATCH = "mirror-approval-waits"
ROLLBACK_PATCH = "mirror-rollback-start"


class WaitMirror:
    """Mirrors the run when what it waits for changes, one record at a time, and
    never after the run's final mirror."""

    def __init__(self, record: Callable[[], RunRecord]) -> None:
        self._record = record
        self._wanted = False
        self._what = ""
        self._closed = False
        self._task: asyncio.Task[None] | None = None

    def changed(self, what: str = "an approval asked for or answered") -> None:
        """The run's state changed (`what`): the graph should show it."""
        if self._closed or not workflow.patched(PATCH):
            return
        self._wanted = True
        self._what = what
        if self._task is None:
            self._task = asyncio.create_task(self._mirror())

    async def close(self) -> None:
        """Nothing more to mirror here; returns once a record under way is written
        (the run's final mirror, which follows, must land last)."""
        self._closed = True
        while self._task is not None and not self._task.done():
            try:
                await workflow.wait([self._task])
            except asyncio.CancelledError:
                continue  # the run is finishing: a cancel now changes nothing

    async def _mirror(self) -> None:
        while True:
            # A condition is looked at once the activation's other work is done:
            # approvals asked for together (steps of one wave) go in one record.
            await workflow.wait_condition(lambda: self._wanted or self._closed)
            if self._closed:
                return
            self._wanted = False
            await workflow.execute_local_activity_method(
                GraphActivities.record_run, self._record(),
                summary=f"mirror {self._what}", **mirror_options(),
            )
