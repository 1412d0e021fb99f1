"""The Neo4j graph store, through the official async driver.

One driver per store: it holds the connection pool and is safe to share between
tasks. Every statement runs in a managed transaction on the configured database,
so the driver retries transient faults (deadlocks between concurrent MERGEs, a
cluster changing leader) by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlsplit

from neo4j import (
    AsyncDriver,
    AsyncGraphDatabase,
    AsyncManagedTransaction,
    AsyncResult,
    AsyncSession,
    RoutingControl,
)
from neo4j.exceptions import AuthError, ClientError, ConfigurationError, ServiceUnavailable

from orchestrator.errors import GraphStoreUnavailable
from orchestrator.graph import queries as q
from orchestrator.graph.cypher_store import CypherStore
from orchestrator.graph.one_statement import one_statement
from orchestrator.graph.results import (
    Rows,
)
from orchestrator.graph.rows import Write

BOLT_SCHEMES = ("neo4j", "neo4j+s", "neo4j+ssc", "bolt", "bolt+s", "bolt+ssc")
# How long one statement or transaction may go unanswered. A run's writes take
# milliseconds, the largest reads (500 completed runs) well under a second.
QUERY_TIMEOUT_S = 30.0


# The driver tries a transaction again on transient faults (a leader change, a
# lost connection) for this long. Its default, 30 s, held every caller that long
# while Neo4j was down (refusing connections): each step's graph call, each API
# request, a worker's shutdown. Steps are retried by Temporal and the API's
# callers by their own, so the graph is told unavailable within a few seconds.
RETRY_TIME_S = 3.0

class Neo4jGraphStore(CypherStore):
    _count_queries = (q.NEO4J_COUNT_NODES, q.NEO4J_COUNT_RELATIONSHIPS)

    def __init__(
        self, uri: str, user: str, password: str, database: str = "neo4j",
        connection_timeout_s: float = 10.0, query_timeout_s: float = QUERY_TIMEOUT_S,
    ) -> None:
        super().__init__()
        self._uri = uri
        self._user = user
        self._password = password
        self._database = database
        self._connection_timeout_s = connection_timeout_s
        self._query_timeout_s = query_timeout_s
        self._driver: AsyncDriver | None = None
        # Every session shares one bookmark manager, so a read sees this process's
        # earlier writes even when a cluster routes it to another member.
        self._bookmarks = AsyncGraphDatabase.bookmark_manager()

    async def setup(self) -> None:
        """Connect, check the credentials and the database, create the constraints."""
        check_uri(self._uri)
        try:
            driver = AsyncGraphDatabase.driver(
                self._uri, auth=(self._user, self._password),
                connection_timeout=self._connection_timeout_s,
                max_transaction_retry_time=RETRY_TIME_S,
                # The statements are fixed and tested: the server's notes on them
                # (a property no node has yet, in a young graph) would only be
                # computed, sent and logged with every statement.
                notifications_min_severity="OFF",
            )
        except (ConfigurationError, ValueError) as err:
            raise GraphStoreUnavailable(f"invalid Neo4j URI {self._uri!r}: {err}") from err
        self._driver = driver
        try:
            await driver.verify_connectivity()
            for statement in q.NEO4J_SCHEMA:
                await self._create_schema(statement)
        except Exception as err:
            self._driver = None
            await driver.close()
            explained = self._explain(err)
            if explained is None:
                raise
            raise explained from err

    def _explain(self, err: Exception) -> GraphStoreUnavailable | None:
        """One sentence naming what is wrong with the configuration, if that is it."""
        if isinstance(err, AuthError):
            return GraphStoreUnavailable(
                f"Neo4j at {self._uri} refused the credentials for user {self._user!r}: "
                "check ORCHESTRATOR_NEO4J_USER and ORCHESTRATOR_NEO4J_PASSWORD"
            )
        if isinstance(err, ServiceUnavailable):
            return GraphStoreUnavailable(f"cannot reach Neo4j at {self._uri}: {_reason(err)}")
        if isinstance(err, ClientError) and err.code == "Neo.ClientError.Database.DatabaseNotFound":
            return GraphStoreUnavailable(
                f"Neo4j at {self._uri} has no database {self._database!r}: "
                "check ORCHESTRATOR_NEO4J_DATABASE"
            )
        return None

    async def reachable(self) -> None:
        if self._driver is None:
            raise RuntimeError("graph store is not open: call setup() first")
        try:
            async with asyncio.timeout(self._query_timeout_s):
                await self._driver.verify_connectivity()
        except TimeoutError:
            raise GraphStoreUnavailable(
                f"Neo4j at {self._uri} did not answer within {self._query_timeout_s:g} s"
            ) from None
        except (ServiceUnavailable, OSError) as err:
            raise GraphStoreUnavailable(
                f"cannot reach Neo4j at {self._uri}: {_reason(err)}") from err

    async def _create_schema(self, statement: str) -> None:
        try:
            await self._batch([(statement, {})])
        except ClientError as err:
            # Two processes starting at once may both find a constraint missing; the
            # second to create it is told it exists, which is what it wanted.
            if not (err.code or "").endswith("AlreadyExists"):
                raise

    async def close(self) -> None:
        await self._close_caches()
        driver, self._driver = self._driver, None
        if driver is not None:
            await driver.close()

    def _session(self) -> AsyncSession:
        if self._driver is None:
            raise RuntimeError("graph store is not open: call setup() first")
        return self._driver.session(database=self._database, bookmark_manager=self._bookmarks)

    async def _read_rows(self, query: str, **params: Any) -> Rows:
        return await self._query(query, params, RoutingControl.READ)

    async def _write_rows(self, query: str, **params: Any) -> Rows:
        try:
            return await self._query(query, params, RoutingControl.WRITE)
        finally:
            self._wrote([query])

    async def _transaction(self, writes: list[Write]) -> None:
        statements = one_statement(writes)
        if len(statements) == 1:
            query, params = statements[0]
            await self._query(query, params, RoutingControl.WRITE)
            return
        async with self._answered(), self._session() as session:
            await session.execute_write(_run_all, statements)

    @contextlib.asynccontextmanager
    async def _answered(self) -> AsyncIterator[None]:
        """Bound a call by the query timeout: a server that stops answering (a paused
        JVM, a partition) holds a connection open and the driver waits on it forever,
        and with it every caller, an API request as much as a step."""
        try:
            async with asyncio.timeout(self._query_timeout_s):
                yield
        except TimeoutError:
            raise GraphStoreUnavailable(
                f"Neo4j at {self._uri} did not answer within {self._query_timeout_s:g} s"
            ) from None
        except (AuthError, ServiceUnavailable) as err:
            # Told as at start-up: a server restarted with other credentials, or
            # gone, is unavailable (503), not an error of the request.
            explained = self._explain(err)
            assert explained is not None
            raise explained from err

    async def _read_then_write(
        self, reads: list[Write], decide: Callable[[list[Rows]], list[Write]]
    ) -> None:
        async def work(tx: AsyncManagedTransaction) -> None:
            results = [await (await tx.run(query, params)).values() for query, params in reads]
            for query, params in decide(results):
                await (await tx.run(query, params)).consume()

        try:
            async with self._answered(), self._session() as session:
                await session.execute_write(work)
        finally:
            self._wrote([query for query, _ in reads])

    async def _query(self, query: str, params: dict[str, Any], routing: RoutingControl) -> Rows:
        """One statement in a managed transaction (retried on transient faults), its
        begin sent with it: one round trip and the commit, where a session's
        transaction waits for its begin first."""
        if self._driver is None:
            raise RuntimeError("graph store is not open: call setup() first")
        async with self._answered():
            rows: Rows = await self._driver.execute_query(
                query, params, database_=self._database, routing_=routing,
                bookmark_manager_=self._bookmarks, result_transformer_=AsyncResult.values,
            )
        return rows


def check_uri(uri: str) -> None:
    """Refuse a URI this store cannot use, before anything connects."""
    parts = urlsplit(uri)
    # The driver also takes http(s) URIs, for a preview API this store does not use.
    if parts.scheme not in BOLT_SCHEMES:
        raise GraphStoreUnavailable(
            f"invalid Neo4j URI {uri!r}: it should start with "
            + " or ".join(f"{scheme}://" for scheme in BOLT_SCHEMES)
        )
    try:
        parts.port  # noqa: B018 -- parsing the port is the check
    except ValueError as err:
        raise GraphStoreUnavailable(f"invalid Neo4j URI {uri!r}: {err}") from err


async def _run_all(tx: AsyncManagedTransaction, writes: list[Write]) -> None:
    for query, params in writes:
        await (await tx.run(query, params)).consume()


def _reason(err: BaseException) -> str:
    """The driver's message on one line, with the first failure a routing error wraps."""
    parts = [str(err)]
    cause = err.__cause__ or err.__context__
    if isinstance(cause, BaseExceptionGroup):
        while isinstance(cause, BaseExceptionGroup):
            cause = cause.exceptions[0]
        parts.append(str(cause))
    return " ".join(": ".join(parts).split())
