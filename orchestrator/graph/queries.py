"""Every Cypher statement the graph stores run, as small named constants.

Values always travel as parameters; nothing here is built from user input.
Writes `MERGE` on stable ids and take batches through `UNWIND $rows`.

Each node a batch looks up by id gets a `MATCH` of its own: LadybugDB finds
`MATCH (a {id: r.x})` through the primary-key index, but `MATCH (a {id: r.x}),
(b {id: r.y})` by scanning both tables (a 5-row DEPENDS_ON batch took 140 ms
with 50,000 steps stored, 0.24 ms with two MATCHes). Upserts into the tables
that grow with every run have embedded forms of their own (embedded_queries.py).
"""

# -- schema of the embedded store (Neo4j needs no tables, only constraints) --

EMBEDDED_SCHEMA = [
    "CREATE NODE TABLE IF NOT EXISTS Entity(id STRING PRIMARY KEY, kind STRING, name STRING,"
    " created_by STRING, attrs STRING)",
    "CREATE NODE TABLE IF NOT EXISTS Workflow(id STRING PRIMARY KEY, request STRING,"
    " status STRING, error STRING)",
    "CREATE NODE TABLE IF NOT EXISTS Plan(id STRING PRIMARY KEY, intent STRING, request STRING)",
    "CREATE NODE TABLE IF NOT EXISTS Step(id STRING PRIMARY KEY, workflow_id STRING,"
    " step_id STRING, capability STRING, agent STRING, status STRING, attempt INT64,"
    " output STRING, error STRING)",
    "CREATE NODE TABLE IF NOT EXISTS Agent(id STRING PRIMARY KEY, kind STRING)",
    "CREATE NODE TABLE IF NOT EXISTS Capability(id STRING PRIMARY KEY, description STRING,"
    " consumes STRING[], produces STRING[])",
    "CREATE REL TABLE IF NOT EXISTS PROVIDES(FROM Agent TO Capability, runs INT64,"
    " successes INT64, total_ms INT64)",
    "CREATE REL TABLE IF NOT EXISTS HAS_PLAN(FROM Workflow TO Plan)",
    "CREATE REL TABLE IF NOT EXISTS CONTAINS(FROM Workflow TO Step)",
    "CREATE REL TABLE IF NOT EXISTS DEPENDS_ON(FROM Step TO Step)",
    "CREATE REL TABLE IF NOT EXISTS EXECUTED_BY(FROM Step TO Agent)",
    "CREATE REL TABLE IF NOT EXISTS OPERATES_ON(FROM Step TO Entity)",
    "CREATE REL TABLE IF NOT EXISTS RELATED_TO(FROM Entity TO Entity, type STRING)",
    "CREATE REL TABLE IF NOT EXISTS COMPENSATED_BY(FROM Step TO Step)",
    # A run started by a follow-up on an earlier, finished run of the conversation.
    "CREATE REL TABLE IF NOT EXISTS FOLLOWS(FROM Workflow TO Workflow)",
    # One agent's go at one step: counted into PROVIDES exactly once.
    "CREATE NODE TABLE IF NOT EXISTS Outcome(id STRING PRIMARY KEY, workflow_id STRING,"
    " step_id STRING, agent STRING, capability STRING, ok INT64, ms INT64, fresh BOOLEAN)",
    # Added after the first release: databases made before get the column here.
    "ALTER TABLE PROVIDES ADD IF NOT EXISTS recent_ms DOUBLE DEFAULT 0.0",
    "ALTER TABLE PROVIDES ADD IF NOT EXISTS recent_ok DOUBLE",
    # Who else holds an entity or a relationship besides the step that made it
    # (holds.py); relationships also say which step made them.
    "ALTER TABLE Entity ADD IF NOT EXISTS users STRING[] DEFAULT []",
    "ALTER TABLE RELATED_TO ADD IF NOT EXISTS created_by STRING DEFAULT ''",
    "ALTER TABLE RELATED_TO ADD IF NOT EXISTS users STRING[] DEFAULT []",
    # Whether a step's state is its run's final mirror's (SET_STEP_STATES).
    "ALTER TABLE Step ADD IF NOT EXISTS final BOOLEAN DEFAULT false",
    # When a run finished, in ms since the epoch (COMPLETED_PLANS: newest first).
    "ALTER TABLE Workflow ADD IF NOT EXISTS finished INT64",
    # A completed run's time beyond its agents', per stage (STAGE_OVERHEADS).
    "ALTER TABLE Workflow ADD IF NOT EXISTS stage_ms DOUBLE",
    # MCP servers and the tools they expose, each implementing its capability.
    "CREATE NODE TABLE IF NOT EXISTS McpServer(id STRING PRIMARY KEY, agent STRING)",
    "CREATE NODE TABLE IF NOT EXISTS Tool(id STRING PRIMARY KEY, server STRING, name STRING,"
    " description STRING, read_only BOOLEAN, sensitive BOOLEAN)",
    "CREATE REL TABLE IF NOT EXISTS EXPOSES(FROM McpServer TO Tool)",
    "CREATE REL TABLE IF NOT EXISTS IMPLEMENTS(FROM Tool TO Capability)",
]

# -- schema of Neo4j: uniqueness under every id a MERGE keys on, so concurrent
# MERGEs of one id make one node --

NEO4J_SCHEMA = [
    "CREATE CONSTRAINT entity_id IF NOT EXISTS FOR (n:Entity) REQUIRE n.id IS UNIQUE",
    "CREATE CONSTRAINT workflow_id IF NOT EXISTS FOR (n:Workflow) REQUIRE n.id IS UNIQUE",
    "CREATE CONSTRAINT plan_id IF NOT EXISTS FOR (n:Plan) REQUIRE n.id IS UNIQUE",
    "CREATE CONSTRAINT step_id IF NOT EXISTS FOR (n:Step) REQUIRE n.id IS UNIQUE",
    "CREATE CONSTRAINT agent_id IF NOT EXISTS FOR (n:Agent) REQUIRE n.id IS UNIQUE",
    "CREATE CONSTRAINT capability_id IF NOT EXISTS FOR (n:Capability) REQUIRE n.id IS UNIQUE",
    "CREATE INDEX entity_kind IF NOT EXISTS FOR (n:Entity) ON (n.kind)",
    # References are resolved by name.
    "CREATE INDEX entity_name IF NOT EXISTS FOR (n:Entity) ON (n.name)",
    "CREATE CONSTRAINT outcome_id IF NOT EXISTS FOR (n:Outcome) REQUIRE n.id IS UNIQUE",
    "CREATE CONSTRAINT mcp_server_id IF NOT EXISTS FOR (n:McpServer) REQUIRE n.id IS UNIQUE",
    "CREATE CONSTRAINT tool_id IF NOT EXISTS FOR (n:Tool) REQUIRE n.id IS UNIQUE",
]

# -- counts, for checks: nodes by label and relationships by type --

EMBEDDED_COUNT_NODES = "MATCH (n) RETURN label(n), count(*)"
EMBEDDED_COUNT_RELATIONSHIPS = "MATCH ()-[r]->() RETURN label(r), count(*)"
EMBEDDED_COUNT_RUNS = "MATCH (w:Workflow) RETURN count(w)"
NEO4J_COUNT_NODES = "MATCH (n) UNWIND labels(n) AS label RETURN label, count(*)"
NEO4J_COUNT_RELATIONSHIPS = "MATCH ()-[r]->() RETURN type(r), count(*)"

# -- catalogue --

MERGE_CAPABILITIES = """
UNWIND $rows AS r
MERGE (c:Capability {id: r.id})
SET c.description = r.description, c.consumes = r.consumes, c.produces = r.produces
"""

MERGE_AGENTS = """
UNWIND $rows AS r
MERGE (a:Agent {id: r.id})
SET a.kind = r.kind
"""

MERGE_PROVIDES = """
UNWIND $rows AS r
MATCH (a:Agent {id: r.agent})
MATCH (c:Capability {id: r.capability})
MERGE (a)-[p:PROVIDES]->(c)
ON CREATE SET p.runs = 0, p.successes = 0, p.total_ms = 0
"""

# -- entities --

# A step that finds the entity made by another holds it too (holds.py): an undo
# of its maker then leaves it to them.
CLAIM_ENTITY = """
MERGE (e:Entity {id: $id})
ON CREATE SET e.kind = $kind, e.name = $name, e.created_by = $owner, e.attrs = $attrs,
    e.users = []
WITH e
SET e.users = CASE
    WHEN $owner = '' OR e.created_by = $owner OR $owner IN coalesce(e.users, [])
    THEN coalesce(e.users, []) ELSE coalesce(e.users, []) + [$owner] END
RETURN e.kind, e.name, e.created_by, e.attrs, coalesce(e.users, [])
"""

# A step relying on an entity another made (a service's application) holds it.
HOLD_ENTITY = """
MATCH (e:Entity {id: $id})
SET e.users = CASE
    WHEN e.created_by = $owner OR $owner IN coalesce(e.users, [])
    THEN coalesce(e.users, []) ELSE coalesce(e.users, []) + [$owner] END
RETURN e.kind, e.name, e.created_by, e.attrs, coalesce(e.users, [])
"""

GET_ENTITY = """
MATCH (e:Entity {id: $id})
RETURN e.kind, e.name, e.created_by, e.attrs, coalesce(e.users, [])
"""

FIND_ENTITIES = """
MATCH (e:Entity)
RETURN e.kind, e.name, e.created_by, e.attrs, coalesce(e.users, [])
ORDER BY e.kind, e.name
"""

FIND_ENTITIES_OF_KIND = """
MATCH (e:Entity)
WHERE e.kind = $kind
RETURN e.kind, e.name, e.created_by, e.attrs, coalesce(e.users, [])
ORDER BY e.kind, e.name
"""

# Everything one step holds: an undo lets go of it all (a service's application, a
# deployment's services, what a step that failed after writing made). Read under a
# write lock (the SET takes it on Neo4j), decided in Python (holds.py), written in
# the same transaction.
HELD_ENTITIES = """
MATCH (e:Entity)
WHERE e.created_by = $owner OR $owner IN coalesce(e.users, [])
SET e.users = coalesce(e.users, [])
RETURN e.id, e.created_by, e.users
"""

HELD_RELATIONS = """
MATCH (a:Entity)-[x:RELATED_TO]->(b:Entity)
WHERE x.created_by = $owner OR $owner IN coalesce(x.users, [])
SET x.users = coalesce(x.users, [])
RETURN a.id, x.type, b.id, x.created_by, x.users
"""

SET_ENTITY_HOLDS = """
MATCH (e:Entity {id: $id})
SET e.created_by = $created_by, e.users = $users
"""

DELETE_ENTITY = """
MATCH (e:Entity {id: $id})
DETACH DELETE e
"""

SET_RELATION_HOLDS = """
MATCH (a:Entity {id: $source})-[x:RELATED_TO]->(b:Entity {id: $target})
WHERE x.type = $type
SET x.created_by = $created_by, x.users = $users
"""

DELETE_RELATION = """
MATCH (a:Entity {id: $source})-[x:RELATED_TO]->(b:Entity {id: $target})
WHERE x.type = $type
DELETE x
"""

# An entity's attributes are one JSON text, replaced whole: the store merges.
SET_ENTITY_ATTRS = """
MATCH (e:Entity {id: $id})
SET e.attrs = $attrs
RETURN e.kind, e.name, e.created_by, e.attrs, coalesce(e.users, [])
"""

# Held like entities: by the step that made the relationship, and by those that
# found it made.
MERGE_RELATIONS = """
UNWIND $rows AS r
MATCH (a:Entity {id: r.source})
MATCH (b:Entity {id: r.target})
MERGE (a)-[x:RELATED_TO {type: r.type}]->(b)
ON CREATE SET x.created_by = r.owner, x.users = []
WITH x, r
SET x.users = CASE
    WHEN r.owner = '' OR x.created_by = r.owner OR r.owner IN coalesce(x.users, [])
    THEN coalesce(x.users, []) ELSE coalesce(x.users, []) + [r.owner] END
"""

DELETE_RELATIONS = """
UNWIND $rows AS r
MATCH (a:Entity {id: r.source})-[x:RELATED_TO]->(b:Entity {id: r.target})
WHERE x.type = r.type
DELETE x
"""

ENTITY_RELATIONS = """
MATCH (a:Entity)-[r:RELATED_TO]->(b:Entity)
WHERE a.id = $id OR b.id = $id
RETURN a.kind, a.name, r.type, b.kind, b.name
ORDER BY r.type, a.id, b.id
"""

# -- runs and steps --

MERGE_WORKFLOWS = """
UNWIND $rows AS r
MERGE (w:Workflow {id: r.id})
SET w.request = r.request, w.status = r.status, w.error = r.error, w.finished = r.finished,
    w.stage_ms = r.stage_ms
"""

# A plan's early, write-behind mirror may land after the run's final one: it
# never overwrites what is there.
MERGE_OPENING_WORKFLOWS = """
UNWIND $rows AS r
MERGE (w:Workflow {id: r.id})
ON CREATE SET w.request = r.request, w.status = r.status, w.error = r.error
"""

# A run whose plan this process has already mirrored: its node exists.
SET_WORKFLOWS = """
UNWIND $rows AS r
MATCH (w:Workflow {id: r.id})
SET w.request = r.request, w.status = r.status, w.error = r.error, w.finished = r.finished,
    w.stage_ms = r.stage_ms
"""

MERGE_PLANS = """
UNWIND $rows AS r
MATCH (w:Workflow {id: r.id})
MERGE (p:Plan {id: r.id})
SET p.intent = r.intent, p.request = r.request
MERGE (w)-[:HAS_PLAN]->(p)
"""

# Status is only set on creation: the step activities own it after that, and
# this write may land after theirs. Steps and their agents in one statement: a
# statement's cost here is mostly compiling it.
MERGE_PLANNED_STEPS = """
UNWIND $rows AS r
MATCH (w:Workflow {id: r.workflow_id})
MERGE (s:Step {id: r.id})
ON CREATE SET s.status = 'pending', s.attempt = 0
SET s.workflow_id = r.workflow_id, s.step_id = r.step_id, s.capability = r.capability,
    s.agent = r.agent
MERGE (w)-[:CONTAINS]->(s)
MERGE (a:Agent {id: r.agent})
MERGE (s)-[:EXECUTED_BY]->(a)
"""

MERGE_DEPENDS_ON = """
UNWIND $rows AS r
MATCH (a:Step {id: r.source})
MATCH (b:Step {id: r.target})
MERGE (a)-[:DEPENDS_ON]->(b)
"""

# A dry run leaves no node: a run following one links to nothing.
MERGE_FOLLOWS = """
UNWIND $rows AS r
MATCH (w:Workflow {id: r.id})
MATCH (e:Workflow {id: r.follows})
MERGE (w)-[:FOLLOWS]->(e)
"""

FOLLOWED_RUNS = """
MATCH (:Workflow {id: $id})-[:FOLLOWS]->(e:Workflow)
RETURN e.id
"""

# The plan's mirror made every step's node before any step could start, so a
# state is a MATCH and a SET, three times cheaper than a MERGE setting every field.
# A state the run's final mirror wrote is final: only another final one replaces it
# (a late attempt's record, from any worker, is dropped here). The agent is the
# one that ran it: after a failover, not the planned one.
SET_STEP_STATES = """
UNWIND $rows AS r
MATCH (s:Step {id: r.id})
WHERE r.final OR NOT coalesce(s.final, false)
SET s.status = r.status, s.attempt = r.attempt, s.output = r.output, s.error = r.error,
    s.final = r.final, s.agent = r.agent
"""

# An undo is a step of its own, made when the rollback runs it.
# The undo step `s` of the step `done` in the run `w`, set and linked.
SET_UNDO_STEP = """
SET s.workflow_id = r.workflow_id, s.step_id = r.step_id, s.capability = r.capability,
    s.agent = r.agent, s.status = r.status, s.attempt = r.attempt, s.output = r.output,
    s.error = r.error
MERGE (w)-[:CONTAINS]->(s)
MERGE (done)-[:COMPENSATED_BY]->(s)
MERGE (a:Agent {id: r.agent})
MERGE (s)-[:EXECUTED_BY]->(a)
"""

MERGE_UNDO_STEPS = """
UNWIND $rows AS r
MATCH (w:Workflow {id: r.workflow_id})
MATCH (done:Step {id: r.undoes})
MERGE (s:Step {id: r.id})""" + SET_UNDO_STEP

# `WITH a`: from the run's steps, then their undos. As one pattern, the embedded
# graph scanned every step when no run had been rolled back yet (no COMPENSATED_BY
# at all): 1.8 ms with 20,000 runs stored, 0.3 ms this way; every reused plan reads it.
RUN_COMPENSATED_BY = """
MATCH (w:Workflow {id: $id})-[:CONTAINS]->(a:Step)
WITH a
MATCH (a)-[:COMPENSATED_BY]->(b:Step)
RETURN a.step_id, b.step_id ORDER BY a.step_id
"""

MERGE_OPERATES_ON = """
UNWIND $rows AS r
MATCH (s:Step {id: r.step})
MATCH (e:Entity {id: r.entity})
MERGE (s)-[:OPERATES_ON]->(e)
"""

# Agents' statistics, idempotently: an outcome is a node keyed by run, step and
# agent; only outcomes this statement creates ("fresh", settled at once) are added
# to PROVIDES, so a mirror written twice counts once (a concurrent write of the
# same outcome waits on the uniqueness lock and then finds it settled). Rows are
# unique by id; aggregated per agent and capability first, as several outcomes
# of one batch may update the same relationship. One statement, not three: the
# run's final mirror waits for it.
# The fresh outcomes `o` settled and added into their agents' statistics.
ADD_FRESH_OUTCOMES = """
WITH o
WHERE o.fresh = true
SET o.fresh = false
WITH o.agent AS agent, o.capability AS capability, count(*) AS n, sum(o.ok) AS ok,
    sum(o.ms) AS ms
MATCH (a:Agent {id: agent})-[p:PROVIDES]->(c:Capability {id: capability})
SET p.recent_ms = CASE WHEN p.runs = 0 THEN 1.0 * ms / n
                       ELSE 0.8 * p.recent_ms + 0.2 * ms / n END,
    p.recent_ok = CASE WHEN p.runs = 0 OR p.recent_ok IS NULL THEN 1.0 * ok / n
                       ELSE 0.8 * p.recent_ok + 0.2 * ok / n END,
    p.runs = p.runs + n, p.successes = p.successes + ok, p.total_ms = p.total_ms + ms
"""

COUNT_OUTCOMES = """
UNWIND $rows AS r
MERGE (o:Outcome {id: r.id})
ON CREATE SET o.workflow_id = r.workflow_id, o.step_id = r.step_id, o.agent = r.agent,
    o.capability = r.capability, o.ok = r.ok, o.ms = r.ms, o.fresh = true""" + ADD_FRESH_OUTCOMES

# Every other agent that had a go at a step (a fallback): the planned one is
# linked with the plan.
MERGE_TRIED_BY = """
UNWIND $rows AS r
MATCH (s:Step {id: r.step})
MERGE (a:Agent {id: r.agent})
MERGE (s)-[:EXECUTED_BY]->(a)
"""

# The plan memory: requests of runs that completed, the last to finish first (runs
# mirrored before finish times were kept come after, by id).
COMPLETED_PLANS = """
MATCH (w:Workflow)-[:HAS_PLAN]->(p:Plan)
WHERE w.status = 'completed'
RETURN p.request, p.intent, w.id, coalesce(w.finished, 0) AS finished
ORDER BY finished DESC, w.id DESC
LIMIT $limit
"""

# Runs the graph holds as not yet ended (a run ended from outside never says so).
UNFINISHED_RUNS = """
MATCH (w:Workflow)
WHERE w.status IN $statuses
RETURN w.id, w.request
ORDER BY w.id
LIMIT $limit
"""

# What the last completed runs took a stage beyond their agents' time.
STAGE_OVERHEADS = """
MATCH (w:Workflow)
WHERE w.status = 'completed' AND w.stage_ms >= 0
RETURN w.stage_ms
ORDER BY w.finished DESC
LIMIT $limit
"""

RUN_WORKFLOW = "MATCH (w:Workflow {id: $id}) RETURN w.status, w.error"

RUN_SHAPE = """
MATCH (w:Workflow {id: $id})-[:CONTAINS]->(s:Step)
OPTIONAL MATCH (s)-[:DEPENDS_ON]->(d:Step)
RETURN s.step_id, s.capability, d.step_id
ORDER BY s.step_id, d.step_id
"""

RUN_STEPS = """
MATCH (w:Workflow {id: $id})-[:CONTAINS]->(s:Step)
RETURN s.step_id, s.capability, s.agent, s.status, s.attempt, s.output
ORDER BY s.step_id
"""

RUN_DEPENDS_ON = """
MATCH (w:Workflow {id: $id})-[:CONTAINS]->(a:Step)-[:DEPENDS_ON]->(b:Step)
RETURN a.step_id, b.step_id ORDER BY a.step_id, b.step_id
"""

RUN_EXECUTED_BY = """
MATCH (w:Workflow {id: $id})-[:CONTAINS]->(s:Step)-[:EXECUTED_BY]->(a:Agent)
RETURN s.step_id, a.id ORDER BY s.step_id
"""

RUN_OPERATES_ON = """
MATCH (w:Workflow {id: $id})-[:CONTAINS]->(s:Step)-[:OPERATES_ON]->(e:Entity)
RETURN s.step_id, e.id ORDER BY s.step_id, e.id
"""

# -- reads over relationships: pages of entities, a step's context, impact,
# references, agents --

# A page is read only when the offset falls within the entities: LadybugDB (0.22)
# crashes the process on ORDER BY ... SKIP past the end of a small result (20
# entities, SKIP 7500). The count costs Neo4j one lookup in its count store.
LIST_ENTITIES = """
MATCH (e:Entity)
WITH count(e) AS total
MATCH (e:Entity)
WHERE total > $offset
RETURN e.kind, e.name, e.created_by, e.attrs, coalesce(e.users, [])
ORDER BY e.kind, e.name
SKIP $offset LIMIT $limit
"""

LIST_ENTITIES_OF_KIND = """
MATCH (e:Entity)
WHERE e.kind = $kind
WITH count(e) AS total
MATCH (e:Entity)
WHERE e.kind = $kind AND total > $offset
RETURN e.kind, e.name, e.created_by, e.attrs, coalesce(e.users, [])
ORDER BY e.kind, e.name
SKIP $offset LIMIT $limit
"""

# LadybugDB refuses variable-length bounds above 30, and a plan deeper than
# that would exceed any step budget; Neo4j would take a larger one.
STEP_DEPENDENCIES = """
MATCH (:Step {id: $id})-[:DEPENDS_ON*1..30]->(d:Step)
RETURN DISTINCT d.step_id, d.capability, d.agent, d.status, d.output
ORDER BY d.step_id
"""

STEP_ENTITIES = """
MATCH (:Step {id: $id})-[:OPERATES_ON]->(e:Entity)
RETURN e.kind, e.name, e.created_by, e.attrs, coalesce(e.users, [])
ORDER BY e.kind, e.name
"""

# Both directions, each with its true source and target; UNION drops the
# relationship seen from both ends when the step touched both.
STEP_ENTITY_RELATIONS = """
MATCH (:Step {id: $id})-[:OPERATES_ON]->(a:Entity)-[r:RELATED_TO]->(b:Entity)
RETURN a.kind, a.name, r.type, b.kind, b.name
UNION
MATCH (:Step {id: $id})-[:OPERATES_ON]->(b:Entity)<-[r:RELATED_TO]-(a:Entity)
RETURN a.kind, a.name, r.type, b.kind, b.name
"""

# Impact follows each relationship in the direction a change spreads:
# - containment (owns, has_policy) from the container to what it holds: an
#   application's change reaches its services, a deployment's its policies;
# - every other type (deploys, runs_in, deployed_to, uses, ...) says its source
#   relies on its target, so from the target back to the source: an application's
#   change reaches the deployments that deploy it, an environment's the
#   applications deployed to it and the deployments running in it.
# So an application's impact is its services, its deployments and their policies,
# and never the environment it is deployed to. One hop per call, from a frontier
# of entity ids: the walk (bounded, each entity once) is the store's loop, the
# same on both backends, as mixed directions fit no variable-length pattern.
IMPACT_CONTAINMENT = ["owns", "has_policy"]
# Where an entity is placed: reached through it, the entity is reached in that
# place only (graph/results.py: read_impact).
IMPACT_PLACEMENT = frozenset({"deployed_to"})

IMPACT_NEXT = """
UNWIND $ids AS id
MATCH (a:Entity {id: id})-[r:RELATED_TO]->(b:Entity)
WHERE r.type IN $containment
RETURN a.kind AS source_kind, a.name AS source_name, r.type AS type,
       b.kind AS target_kind, b.name AS target_name, b.id AS reached
UNION ALL
UNWIND $ids AS id
MATCH (a:Entity)-[r:RELATED_TO]->(b:Entity {id: id})
WHERE NOT r.type IN $containment
RETURN a.kind AS source_kind, a.name AS source_name, r.type AS type,
       b.kind AS target_kind, b.name AS target_name, a.id AS reached
"""

ENTITY_STEPS = """
MATCH (s:Step)-[:OPERATES_ON]->(:Entity {id: $id})
RETURN s.workflow_id, s.step_id, s.capability, s.status
ORDER BY s.workflow_id, s.step_id
"""

ENTITY_KINDS = "MATCH (e:Entity) RETURN DISTINCT e.kind ORDER BY e.kind"

ENTITIES_NAMED = """
MATCH (e:Entity)
WHERE e.name IN $names
RETURN e.kind, e.name, e.created_by, e.attrs, coalesce(e.users, [])
ORDER BY e.name, e.kind
"""

# What is deployed to, or runs in, the environments `$ids`.
PLACED_IN = """
MATCH (e:Entity)-[r:RELATED_TO]->(env:Entity)
WHERE env.id IN $ids AND r.type IN ['deployed_to', 'runs_in']
RETURN DISTINCT e.kind, e.name, e.created_by, e.attrs, coalesce(e.users, [])
ORDER BY e.name, e.kind
"""

AGENT_STATS = """
MATCH (a:Agent)-[p:PROVIDES]->(c:Capability)
RETURN a.id, c.id, p.runs, p.successes, p.total_ms, p.recent_ms, p.recent_ok
ORDER BY a.id, c.id
"""

# Agents seen only as a step's executor have no kind and provide nothing known.
AGENTS = """
MATCH (a:Agent)
OPTIONAL MATCH (a)-[p:PROVIDES]->(c:Capability)
RETURN a.id, a.kind, c.id, p.runs, p.successes, p.total_ms, p.recent_ms, p.recent_ok
ORDER BY a.id, c.id
"""

# -- MCP servers: (McpServer)-[:EXPOSES]->(Tool)-[:IMPLEMENTS]->(Capability) --

MERGE_MCP_SERVERS = """
UNWIND $rows AS r
MERGE (s:McpServer {id: r.id})
SET s.agent = r.agent
"""

# Tools a listed server no longer exposes: gone from the graph with their edges.
DELETE_STALE_TOOLS = """
UNWIND $rows AS r
MATCH (s:McpServer {id: r.id})-[:EXPOSES]->(t:Tool)
WHERE NOT t.id IN r.keep
DETACH DELETE t
"""

MERGE_TOOLS = """
UNWIND $rows AS r
MATCH (s:McpServer {id: r.server})
MATCH (c:Capability {id: r.capability})
MERGE (t:Tool {id: r.id})
SET t.server = r.server, t.name = r.name, t.description = r.description,
    t.read_only = r.read_only, t.sensitive = r.sensitive
MERGE (s)-[:EXPOSES]->(t)
MERGE (t)-[:IMPLEMENTS]->(c)
"""

# A tool whose capability was renamed (`provides`) implements only the new one.
DELETE_STALE_IMPLEMENTS = """
UNWIND $rows AS r
MATCH (t:Tool {id: r.id})-[x:IMPLEMENTS]->(c:Capability)
WHERE c.id <> r.capability
DELETE x
"""

DELETE_MCP_SERVER = """
MATCH (s:McpServer {id: $id})
OPTIONAL MATCH (s)-[:EXPOSES]->(t:Tool)
DETACH DELETE t, s
"""

MCP_SERVER_TOOLS = """
MATCH (s:McpServer)
OPTIONAL MATCH (s)-[:EXPOSES]->(t:Tool)-[:IMPLEMENTS]->(c:Capability)
RETURN s.id, s.agent, t.name, c.id, t.description, t.read_only, t.sensitive
ORDER BY s.id, t.name
"""

