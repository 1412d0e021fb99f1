"""Runs and steps as the parameter rows of the batched graph writes.

Both stores get the same rows for the same statements (the embedded one runs
its own forms of some upserts, queries.py), so a batch of many runs
costs about as much as one.
"""

from __future__ import annotations

import json
from collections.abc import Container
from datetime import datetime
from typing import Any

from orchestrator.graph import queries as q
from orchestrator.graph.overtaking import opening
from orchestrator.graph.store import Relation
from orchestrator.models import Outcome, RunRecord, StepRecord

Write = tuple[str, dict[str, Any]]


def mirror_writes(
    runs: list[RunRecord], steps: list[StepRecord], planned: Container[str] = ()
) -> list[Write]:
    """One batch of mirroring, in the order that keeps it correct: plans first, so
    the steps' nodes exist for their states; finished runs last, as they carry the
    states their workflows decided. Runs in `planned` are known to have their plan
    in the graph already, so it is not written again."""
    opened = [r for r in runs if opening(r) and plan_key(r) not in planned]
    closing = [r for r in runs if not opening(r)]
    return (
        run_writes(opened, q.MERGE_OPENING_WORKFLOWS)
        + step_writes(steps)
        + run_writes([r for r in closing if plan_key(r) in planned], q.SET_WORKFLOWS,
                     with_plan=False)
        + run_writes([r for r in closing if plan_key(r) not in planned], q.MERGE_WORKFLOWS)
        + outcome_writes(closing)
    )


def plan_key(record: RunRecord) -> str:
    """A run's plan as mirrored: one that a follow-up grew is another plan."""
    return f"{record.workflow_id}#{len(record.plan.steps) if record.plan else 0}"


def outcome_writes(records: list[RunRecord]) -> list[Write]:
    """Agents' outcomes into their statistics, and the agents each step tried
    besides its planned one."""
    # By id: one batch may carry the same run's final mirror twice (a retry).
    rows = list({
        _outcome_id(r, o): {
            "id": _outcome_id(r, o), "workflow_id": r.workflow_id,
            "step_id": o.step_id, "agent": o.agent, "capability": o.capability,
            "ok": int(o.ok), "ms": o.duration_ms}
        for r in records for o in r.outcomes
    }.values())
    tried = [{"step": f"{r.workflow_id}/{o.step_id}", "agent": o.agent}
             for r in records for o in r.outcomes
             if not o.undo and o.agent != _planned_agent(r, o.step_id)]
    return [
        (q.COUNT_OUTCOMES, {"rows": rows}),
        (q.MERGE_TRIED_BY, {"rows": tried}),
    ]


def epoch_ms(at: datetime | None) -> int:
    """A time as the graph keeps it: ms since the epoch, 0 for none (a typed null the
    embedded store cannot take from a batch of nulls)."""
    return 0 if at is None else round(at.timestamp() * 1000)


def _outcome_id(record: RunRecord, outcome: Outcome) -> str:
    key = f"{record.workflow_id}/{outcome.step_id}/{outcome.agent}"
    if not outcome.undo:
        return key
    # An undo tried again is another observation; the same try mirrored again is not.
    return f"{key}/undo/{outcome.retry}" if outcome.retry else f"{key}/undo"


def _planned_agent(record: RunRecord, step_id: str) -> str | None:
    """The agent the plan chose for the step: its plan's mirror links it."""
    steps = record.plan.steps if record.plan else []
    return next((s.agent for s in steps if s.id == step_id), None)


def run_writes(records: list[RunRecord], workflow_query: str, with_plan: bool = True
               ) -> list[Write]:
    """The workflow nodes, plans, planned steps with their edges, and step states."""
    workflows, plans, steps, deps = [], [], [], []
    follows = [{"id": r.workflow_id, "follows": r.follows} for r in records if r.follows]
    for record in records:
        wf = record.workflow_id
        workflows.append({"id": wf, "request": record.request, "status": record.status.value,
                          "error": record.error, "finished": epoch_ms(record.finished_at),
                          # -1: not known (a typed null, as for `finished`).
                          "stage_ms": -1.0 if record.stage_overhead_ms is None
                          else float(record.stage_overhead_ms)})
        if record.plan is None or not with_plan:
            continue
        plans.append({"id": wf, "intent": record.plan.intent, "request": record.plan.request})
        for s in record.plan.steps:
            steps.append({"workflow_id": wf, "id": f"{wf}/{s.id}", "step_id": s.id,
                          "capability": s.capability, "agent": s.agent})
            deps += [{"source": f"{wf}/{s.id}", "target": f"{wf}/{d}"} for d in s.depends_on]
    writes: list[Write] = [
        (workflow_query, {"rows": workflows}),
        (q.MERGE_PLANS, {"rows": plans}),
        (q.MERGE_PLANNED_STEPS, {"rows": steps}),
        (q.MERGE_DEPENDS_ON, {"rows": deps}),
        (q.MERGE_FOLLOWS, {"rows": follows}),
    ]
    final = {r.workflow_id for r in records if r.status.finished}
    return writes + step_writes([s for r in records for s in r.steps], final)


def step_writes(records: list[StepRecord], final: Container[str] = ()) -> list[Write]:
    """Steps' states, the undos of rolled-back steps, and the entities they touch.
    The states of runs in `final` are their final mirror's: the last word, which no
    later state (an attempt given up on, ending late in some worker) overwrites."""
    states = [
        {"id": _step_key(r), "agent": r.agent, "status": r.status.value, "attempt": r.attempt,
         "output": _output_text(r), "error": r.error, "final": r.workflow_id in final}
        for r in records if not r.undo
    ]
    undos = [
        {"id": _step_key(r), "undoes": f"{r.workflow_id}/{r.step_id}",
         "workflow_id": r.workflow_id, "step_id": f"undo-{r.step_id}",
         "capability": r.capability, "agent": r.agent, "status": r.status.value,
         "attempt": r.attempt, "output": _output_text(r), "error": r.error}
        for r in records if r.undo
    ]
    touched = [
        {"step": _step_key(r), "entity": e.key} for r in records for e in r.operates_on
    ]
    return [
        (q.SET_STEP_STATES, {"rows": states}),
        (q.MERGE_UNDO_STEPS, {"rows": undos}),
        (q.MERGE_OPERATES_ON, {"rows": touched}),
    ]


def _output_text(record: StepRecord) -> str | None:
    return None if record.output is None else json.dumps(record.output, sort_keys=True)


def _step_key(record: StepRecord) -> str:
    """A step's node id; its undo is a node of its own beside it."""
    key = f"{record.workflow_id}/{record.step_id}"
    return f"{key}/undo" if record.undo else key


def relation_rows(relations: list[Relation]) -> list[dict[str, str]]:
    return [{"source": r.source.key, "type": r.type, "target": r.target.key} for r in relations]
