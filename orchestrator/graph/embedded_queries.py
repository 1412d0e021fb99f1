"""The embedded store's own forms of the upserts into tables that grow with runs.

LadybugDB runs `UNWIND $rows AS r MERGE (n:L {id: r.id})` as a scan of the
whole table: a 5-row MERGE into 50,000 steps took 3.2 ms (a MATCH of the same
rows 0.1 ms), and a run's final mirror grew slower with every run stored. Its
one writer never runs two transactions at once, so there an upsert can be two
statements that use the index: create the missing nodes (rows unique by id,
the first row of an id winning, as under MERGE), then match and set them all.
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.graph import queries as q

CREATE_MISSING_WORKFLOWS = """
UNWIND $rows AS r
OPTIONAL MATCH (w:Workflow {id: r.id})
WITH r, w WHERE w IS NULL
CREATE (:Workflow {id: r.id, request: r.request, status: r.status, error: r.error,
    finished: r.finished, stage_ms: r.stage_ms})
"""

CREATE_MISSING_PLANS = """
UNWIND $rows AS r
MATCH (w:Workflow {id: r.id})
OPTIONAL MATCH (p:Plan {id: r.id})
WITH r, w, p WHERE p IS NULL
CREATE (w)-[:HAS_PLAN]->(:Plan {id: r.id, intent: r.intent, request: r.request})
"""

SET_PLANS = """
UNWIND $rows AS r
MATCH (w:Workflow {id: r.id})
MATCH (p:Plan {id: r.id})
SET p.intent = r.intent, p.request = r.request
MERGE (w)-[:HAS_PLAN]->(p)
"""

# A planned step's edges are made with it: `MERGE (s)-[:EXECUTED_BY]->(a)` scans
# the agent's every step (3 ms a run with 8,000 runs stored), and a step keeps
# the planned agent its id was made for (fallbacks are linked by MERGE_TRIED_BY).
CREATE_MISSING_PLANNED_STEPS = """
UNWIND $rows AS r
MATCH (w:Workflow {id: r.workflow_id})
OPTIONAL MATCH (s:Step {id: r.id})
WITH r, w, s WHERE s IS NULL
MERGE (a:Agent {id: r.agent})
CREATE (w)-[:CONTAINS]->(:Step {id: r.id, status: 'pending', attempt: 0})-[:EXECUTED_BY]->(a)
"""

SET_PLANNED_STEPS = """
UNWIND $rows AS r
MATCH (s:Step {id: r.id})
SET s.workflow_id = r.workflow_id, s.step_id = r.step_id, s.capability = r.capability,
    s.agent = r.agent
"""

CREATE_MISSING_UNDO_STEPS = """
UNWIND $rows AS r
MATCH (w:Workflow {id: r.workflow_id})
MATCH (done:Step {id: r.undoes})
OPTIONAL MATCH (s:Step {id: r.id})
WITH r, s WHERE s IS NULL
CREATE (:Step {id: r.id})
"""

SET_UNDO_STEPS = """
UNWIND $rows AS r
MATCH (w:Workflow {id: r.workflow_id})
MATCH (done:Step {id: r.undoes})
MATCH (s:Step {id: r.id})""" + q.SET_UNDO_STEP

CREATE_MISSING_OUTCOMES = """
UNWIND $rows AS r
OPTIONAL MATCH (o:Outcome {id: r.id})
WITH r, o WHERE o IS NULL
CREATE (:Outcome {id: r.id, workflow_id: r.workflow_id, step_id: r.step_id, agent: r.agent,
    capability: r.capability, ok: r.ok, ms: r.ms, fresh: true})
"""

SETTLE_OUTCOMES = """
UNWIND $rows AS r
MATCH (o:Outcome {id: r.id})""" + q.ADD_FRESH_OUTCOMES

# `MERGE (s)-[:OPERATES_ON]->(e)` scans every step that touched the entity, and
# an entity many runs share (an environment) has thousands: 2.4 ms a batch with
# 5,000 runs stored, 0.8 ms looking from the step, which touches a few.
CREATE_MISSING_OPERATES_ON = """
UNWIND $rows AS r
MATCH (s:Step {id: r.step})
OPTIONAL MATCH (s)-[:OPERATES_ON]->(t:Entity {id: r.entity})
WITH r, s, t WHERE t IS NULL
MATCH (e:Entity {id: r.entity})
CREATE (s)-[:OPERATES_ON]->(e)
"""

# Relations the same way, looked for from their source (a deployment relates to
# the environment many deployments share).
CREATE_MISSING_RELATIONS = """
UNWIND $rows AS r
MATCH (a:Entity {id: r.source})
OPTIONAL MATCH (a)-[x:RELATED_TO]->(t:Entity {id: r.target})
WHERE x.type = r.type
WITH r, a, x WHERE x IS NULL
MATCH (b:Entity {id: r.target})
CREATE (a)-[:RELATED_TO {type: r.type, created_by: r.owner, users: []}]->(b)
"""

HOLD_RELATIONS = """
UNWIND $rows AS r
MATCH (a:Entity {id: r.source})-[x:RELATED_TO]->(b:Entity {id: r.target})
WHERE x.type = r.type
SET x.users = CASE
    WHEN r.owner = '' OR x.created_by = r.owner OR r.owner IN x.users
    THEN x.users ELSE x.users + [r.owner] END
"""


@dataclass(frozen=True)
class Upsert:
    """The statements run in place of a shared upsert, creating first, and the
    fields that make a row unique."""

    statements: tuple[str, ...]
    key: tuple[str, ...] = ("id",)


UPSERTS: dict[str, Upsert] = {
    q.MERGE_WORKFLOWS: Upsert((CREATE_MISSING_WORKFLOWS, q.SET_WORKFLOWS)),
    q.MERGE_OPENING_WORKFLOWS: Upsert((CREATE_MISSING_WORKFLOWS,)),
    q.MERGE_PLANS: Upsert((CREATE_MISSING_PLANS, SET_PLANS)),
    q.MERGE_PLANNED_STEPS: Upsert((CREATE_MISSING_PLANNED_STEPS, SET_PLANNED_STEPS)),
    q.MERGE_UNDO_STEPS: Upsert((CREATE_MISSING_UNDO_STEPS, SET_UNDO_STEPS)),
    q.COUNT_OUTCOMES: Upsert((CREATE_MISSING_OUTCOMES, SETTLE_OUTCOMES)),
    q.MERGE_OPERATES_ON: Upsert((CREATE_MISSING_OPERATES_ON,), key=("step", "entity")),
    q.MERGE_RELATIONS: Upsert((CREATE_MISSING_RELATIONS, HOLD_RELATIONS),
                              key=("source", "target", "type")),
}
