"""When a run's final mirror may be written beside the write-behind, not after it.

Mirroring goes through one ordered writer, so that a later state of a step
always lands after an earlier one. But a run's final mirror waits on the path
of the run, and in the usual case the write-behind batch it would queue behind
carries exactly the states it carries itself (the last steps' completions): in
whichever order those two commit, the graph ends the same. So the final record
goes out at once, in a writer of its own, unless something still queued or
being written says something else about its run.
"""

from __future__ import annotations

from collections.abc import Iterable

from orchestrator.models import RunRecord, StepRecord

Item = RunRecord | list[StepRecord]


def opening(record: RunRecord) -> bool:
    """A plan just made, with no step state yet (the plan activity's record): its
    writes only create what is missing, so they commute with any other."""
    return record.plan is not None and not record.steps


def may_overtake(final: RunRecord, unwritten: Iterable[Item]) -> bool:
    """Whether `final` commutes with every write not yet committed."""
    if opening(final):
        return False
    states = {(s.step_id, s.undo): s for s in final.steps}
    for item in unwritten:
        if isinstance(item, RunRecord):
            if item.workflow_id == final.workflow_id and not opening(item):
                return False  # another final of the run: keep their order
            continue
        for record in item:
            if record.workflow_id == final.workflow_id and (
                states.get((record.step_id, record.undo)) != record
            ):
                return False
    return True
