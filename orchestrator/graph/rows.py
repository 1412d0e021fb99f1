"""Runs and steps as the parameter rows of the batched graph writes.

Both stores send the same rows to the same statements, so a batch of many runs
costs about as much as one.
"""

from __future__ import annotations

import json
from typing import Any

from orchestrator.graph import queries as q
from orchestrator.models import RunRecord, StepRecord

Write = tuple[str, dict[str, Any]]


def run_writes(records: list[RunRecord]) -> list[Write]:
    """The workflow nodes, plans, planned steps with their edges, and step states."""
    workflows, plans, steps, deps = [], [], [], []
    for record in records:
        wf = record.workflow_id
        workflows.append({"id": wf, "request": record.request, "status": record.status.value,
                          "error": record.error})
        if record.plan is None:
            continue
        plans.append({"id": wf, "intent": record.plan.intent, "request": record.plan.request})
        for s in record.plan.steps:
            steps.append({"workflow_id": wf, "id": f"{wf}/{s.id}", "step_id": s.id,
                          "capability": s.capability, "agent": s.agent})
            deps += [{"source": f"{wf}/{s.id}", "target": f"{wf}/{d}"} for d in s.depends_on]
    writes: list[Write] = [
        (q.MERGE_WORKFLOWS, {"rows": workflows}),
        (q.MERGE_PLANS, {"rows": plans}),
        (q.MERGE_PLANNED_STEPS, {"rows": steps}),
        (q.MERGE_EXECUTED_BY, {"rows": steps}),
        (q.MERGE_DEPENDS_ON, {"rows": deps}),
    ]
    return writes + step_writes([s for r in records for s in r.steps])


def step_writes(records: list[StepRecord]) -> list[Write]:
    """Steps' states and the entities they operate on."""
    states = [
        {"id": f"{r.workflow_id}/{r.step_id}", "status": r.status.value, "attempt": r.attempt,
         "output": None if r.output is None else json.dumps(r.output, sort_keys=True),
         "error": r.error}
        for r in records
    ]
    touched = [
        {"step": f"{r.workflow_id}/{r.step_id}", "entity": e.key}
        for r in records for e in r.operates_on
    ]
    return [(q.SET_STEP_STATES, {"rows": states}), (q.MERGE_OPERATES_ON, {"rows": touched})]
