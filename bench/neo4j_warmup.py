"""Warming a fresh Neo4j up before it is measured.

A Neo4j that has just started runs slowly until the JVM has compiled its hot
paths, and that takes thousands of transactions: sending runs' final mirrors
alone to a fresh server, its CPU per run averaged 14 ms over the first 1,000
runs, 10 ms over 3,000 and 5 ms over 8,000 (the Python side: ~2 ms throughout).
A server in use has long done so, so benchmarks of steady-state mirroring first
put it through the same statements a run sends: a plan, its steps' states, its
final record with outcomes, on workflows of their own.
"""

from __future__ import annotations

import time

from orchestrator.graph.store import GraphStore
from orchestrator.models import Outcome, Plan, RunRecord, RunStatus, StepRecord, StepStatus

PREFIX = "warm-up-"


async def warm_up(store: GraphStore, plan: Plan, runs: int) -> float:
    """Mirror `runs` made-up runs of `plan` through `store`; returns the seconds taken."""
    started = time.perf_counter()
    for i in range(runs):
        wf = f"{PREFIX}{i:06d}"
        # Every other run's plan reaches the graph with its final record, as a
        # short run's may (the plan's own write still lingering).
        if i % 2:
            await store.record_run(RunRecord(workflow_id=wf, request=plan.request,
                                             status=RunStatus.RUNNING, plan=plan))
        steps = [
            StepRecord(workflow_id=wf, step_id=s.id, capability=s.capability, agent=s.agent,
                       status=StepStatus.COMPLETED, attempt=1, output={"created": True})
            for s in plan.steps
        ]
        await store.record_steps(steps)
        outcomes = [Outcome(step_id=s.id, agent=s.agent, capability=s.capability, ok=True,
                            duration_ms=1) for s in plan.steps]
        await store.record_run(RunRecord(workflow_id=wf, request=plan.request,
                                         status=RunStatus.COMPLETED, plan=plan, steps=steps,
                                         outcomes=outcomes))
    return time.perf_counter() - started
