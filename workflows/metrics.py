"""The orchestrator's metric of runs: how many ended, by final status (Temporal's
own metrics know a run completed, not whether it rolled back). Emitted live
only, never while replaying; not a command, so no patch."""

from __future__ import annotations

from temporalio import workflow

from orchestrator.models import RunStatus

RUNS = "orchestrator_runs"


def run_ended(status: RunStatus, dry_run: bool) -> None:
    workflow.metric_meter().create_counter(RUNS, "runs ended, by final status").add(
        1, {"status": status.value, "dry_run": dry_run})
