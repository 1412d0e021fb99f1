"""The orchestrator's metric of runs: how many ended, by final status and, for
those that did not complete, the kind of problem (Temporal's own metrics know a
run completed, not whether it rolled back; and a request refused as unclear is
`failed` with `cannot_plan`, not a fault to alert on), and a line in the worker's
log for each run's end. Emitted live only, never while replaying; not a command,
so no patch."""

from __future__ import annotations

from temporalio import workflow

from orchestrator.models import Problem, RunStatus

RUNS = "orchestrator_runs"


def run_ended(status: RunStatus, dry_run: bool, problem: Problem | None) -> None:
    workflow.metric_meter().create_counter(RUNS, "runs ended, by final status").add(
        1, {"status": status.value, "dry_run": dry_run,
            "problem": problem.kind.value if problem else ""})
    # An operator reads a run's end in the worker's log too (not again on replay).
    why = f": {problem.message}" if problem else ""
    told = workflow.logger.info if status == RunStatus.COMPLETED else workflow.logger.warning
    told("run %s ended %s%s%s", workflow.info().workflow_id, status.value,
         " (dry run)" if dry_run else "", why)
