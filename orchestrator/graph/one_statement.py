"""A batch of `UNWIND $rows` writes as one Cypher statement, for Neo4j.

Each statement of a transaction costs Neo4j a network round trip (run, then
wait for its result) and the driver a few hundred microseconds of Python. A
run's final mirror is three or four statements, a plan's five or six; as unit
subqueries of one statement, `CALL () { ... }` each, they go out in one
round trip and still run in order in one transaction: each subquery sees what
the ones before it wrote.
"""

from __future__ import annotations

import re

from orchestrator.graph.rows import Write

_ROWS = re.compile(r"\$rows\b")


def one_statement(writes: list[Write]) -> list[Write]:
    """The writes as one statement when each takes only `$rows` (schema statements
    and other shapes are left as they are)."""
    if len(writes) < 2 or any(
        set(params) != {"rows"} or not _ROWS.search(query) for query, params in writes
    ):
        return writes
    parts: list[str] = []
    rows = {}
    for i, (query, params) in enumerate(writes):
        parts.append("CALL () {\n" + _ROWS.sub(f"$rows{i}", query.strip()) + "\n}")
        rows[f"rows{i}"] = params["rows"]
    return [("\n".join(parts), rows)]
