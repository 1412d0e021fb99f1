"""The embedded graph store: an on-disk LadybugDB database inside this process.

LadybugDB allows one writing process, so the API and the worker share one store
in one process. Its calls block, so they run on a single dedicated thread: the
event loop never stalls, and writes are serialised without locks.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar, cast

import ladybug

from orchestrator.errors import GraphStoreUnavailable
from orchestrator.graph import embedded_queries
from orchestrator.graph import queries as q
from orchestrator.graph.cypher_store import CypherStore
from orchestrator.graph.handover import Handover

T = TypeVar("T")
# Uncheckpointed changes live in the buffer pool: with the default threshold a
# 256 MB pool filled after ~250 mirrored runs (the WAL was only ~5 MB) and each
# write got slower as it grew. A checkpoint stalls the write that makes it for
# 200-250 ms however much it has to do, so it should not come too often either:
# over 1,500 final mirrors written one by one, every 1 MB gave a mean of 9.9 ms
# and a p99 of 123 ms, every 4 MB 8.6 and 13 ms (p50 7.5-7.7 ms both, flat over
# 3,000 runs; every 16 MB grew from 8.6 to 11.5).
CHECKPOINT_BYTES = 4 << 20
# The store's statements are small (a run's rows): spread over several threads
# they spend more on handing work around than on the work, and take cores from
# the worker. One thread made a 6-row MERGE 40 % faster (0.41 against 0.69 ms).
QUERY_THREADS = 1
# A connection keeps each statement's plan, made for the batch it first ran: made
# for 500 rows it scans tables (right for 500), and a later 6-row write into
# 5,000 stored runs took 36 ms instead of 0.6 (a run's final mirror: 230 ms
# instead of 10). Batches of more than FEW_ROWS are sent as a statement of their
# own (the same one, marked), so each size keeps a plan of its own.
FEW_ROWS = 64
MANY_ROWS = "\n/* many rows */"
# A plan is also made for the tables as they are when the statement first runs:
# made while the store was nearly empty, the OPERATES_ON and DEPENDS_ON writes
# scanned, and a run's final mirror slowed with every run written (OPERATES_ON
# 0.7 -> 2.4 ms over 1,500 runs written one by one; flat when remade). So plans
# are remade, on a fresh connection with nothing cached, each time the runs
# stored have doubled since they were made (from REPLAN_FIRST runs on).
REPLAN_FIRST = 32
# The statements that write a run's workflow node: their rows count the runs.
RUN_WRITES = frozenset({q.MERGE_WORKFLOWS, q.MERGE_OPENING_WORKFLOWS})
Rows = list[list[Any]]
Statement = tuple[str, dict[str, Any]]


class EmbeddedGraphStore(CypherStore):
    _count_queries = (q.EMBEDDED_COUNT_NODES, q.EMBEDDED_COUNT_RELATIONSHIPS)

    def __init__(self, path: Path, buffer_pool_mb: int = 256) -> None:
        super().__init__()
        self._path = path
        self._buffer_pool = buffer_pool_mb * 1024 * 1024
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="graph")
        self._db: ladybug.Database | None = None
        self._conn: ladybug.Connection | None = None
        # Runs stored when the plans in use were made, and runs written since
        # (touched on the graph thread only).
        self._runs_planned_for = 0
        self._runs_written = 0

    async def setup(self) -> None:
        await self._call(self._open)
        # One process holds this store, so every reader is here: runs' final
        # mirrors may be written behind their runs (handover.py).
        journal = self._path.with_name(self._path.name + ".finals")
        journal.mkdir(exist_ok=True)
        handover = Handover(self.record_run, journal)
        await handover.replay()
        self._handover = handover

    def _open(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = ladybug.Database(
                str(self._path), buffer_pool_size=self._buffer_pool,
                checkpoint_threshold=CHECKPOINT_BYTES, max_num_threads=QUERY_THREADS,
            )
        except RuntimeError as err:
            if "lock" not in str(err).lower():
                raise
            raise GraphStoreUnavailable(
                f"the embedded graph {self._path} is open in another process; it allows one "
                "process at a time: stop that one (API and worker share one process in "
                "embedded mode) or set another ORCHESTRATOR_DATA_DIR"
            ) from None
        self._conn = ladybug.Connection(self._db, num_threads=QUERY_THREADS)
        for statement in q.EMBEDDED_SCHEMA:
            self._conn.execute(statement)
        self._runs_planned_for = self._exec(q.EMBEDDED_COUNT_RUNS)[0][0]

    async def reachable(self) -> None:
        """In this process: reachable while open."""

    def _replan_if_grown(self) -> None:
        """Between transactions: remake the plans once the runs stored doubled."""
        if self._runs_written < max(REPLAN_FIRST, self._runs_planned_for):
            return
        assert self._db is not None and self._conn is not None
        self._conn.close()
        self._conn = ladybug.Connection(self._db, num_threads=QUERY_THREADS)
        self._runs_planned_for += self._runs_written
        self._runs_written = 0

    async def close(self) -> None:
        def _close() -> None:
            if self._conn is not None:
                self._conn.close()
            if self._db is not None:
                self._db.close()
            self._conn = self._db = None

        if self._handover is not None:
            await self._handover.close()
            self._handover = None
        await self._close_caches()
        await self._call(_close)
        self._executor.shutdown(wait=True)

    async def _call(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    def _exec(self, query: str, **params: Any) -> Rows:
        if self._conn is None:
            raise RuntimeError("graph store is not open: call setup() first")
        if len(params.get("rows", ())) > FEW_ROWS:
            query += MANY_ROWS
        result = self._conn.execute(query, params)
        assert not isinstance(result, list)
        return cast(Rows, result.get_all())

    async def _run(self, query: str, **params: Any) -> Rows:
        """Run one writing statement."""
        try:
            return await self._call(lambda: self._exec(query, **params))
        finally:
            self._wrote([query])

    async def _transaction(self, steps: list[Statement]) -> None:
        runs = sum(len(params["rows"]) for query, params in steps if query in RUN_WRITES)
        steps = [own for query, params in steps for own in _own_forms(query, params)]

        def _tx() -> None:
            self._replan_if_grown()
            if len(steps) == 1:
                self._exec(steps[0][0], **steps[0][1])
            else:
                self._in_transaction(steps)
            self._runs_written += runs

        await self._call(_tx)

    def _in_transaction(self, steps: list[Statement]) -> None:
        self._transactionally(lambda: self._run_all(steps))

    def _run_all(self, steps: list[Statement]) -> None:
        for query, params in steps:
            self._exec(query, **params)

    def _transactionally(self, work: Callable[[], None]) -> None:
        """`work`'s statements in one transaction (on the graph thread)."""
        self._exec("BEGIN TRANSACTION")
        try:
            work()
        except Exception:
            # A failed statement may already have ended the transaction; the
            # original error is the one worth reporting.
            with contextlib.suppress(RuntimeError):
                self._exec("ROLLBACK")
            raise
        self._exec("COMMIT")

    async def _read_rows(self, query: str, **params: Any) -> Rows:
        return await self._call(lambda: self._exec(query, **params))

    async def _read_then_write(
        self, reads: list[Statement], decide: Callable[[list[Rows]], list[Statement]]
    ) -> None:
        # One writer thread: nothing else writes between the reads and the writes.
        def _work() -> None:
            self._run_all(decide([self._exec(query, **params) for query, params in reads]))

        try:
            await self._call(lambda: self._transactionally(_work))
        finally:
            self._wrote([query for query, _ in reads])

    async def _write_rows(self, query: str, **params: Any) -> Rows:
        return await self._run(query, **params)


def _own_forms(query: str, params: dict[str, Any]) -> list[Statement]:
    """The statements this store runs for one shared write: an upsert into a
    growing table becomes creating the missing nodes, then setting them all
    (embedded_queries.py says why)."""
    upsert = embedded_queries.UPSERTS.get(query)
    if upsert is None:
        return [(query, params)]
    create, *rest = upsert.statements
    rows: list[dict[str, Any]] = params["rows"]

    def key(row: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(row[field] for field in upsert.key)

    # Unique by key: the first row of a key creates it (as under MERGE) and the
    # last one's values are the ones set.
    first = list({key(row): row for row in reversed(rows)}.values())
    last = list({key(row): row for row in rows}.values())
    return [(create, {**params, "rows": first})] + [(s, {**params, "rows": last}) for s in rest]
