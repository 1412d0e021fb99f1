"""The Neo4j graph store, through the official async driver.

One driver per store: it holds the connection pool and is safe to share between
tasks. Every statement runs in a managed transaction on the configured database,
so the driver retries transient faults (deadlocks between concurrent MERGEs, a
cluster changing leader) by itself.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from neo4j import AsyncDriver, AsyncGraphDatabase, AsyncManagedTransaction, AsyncSession
from neo4j.exceptions import AuthError, ClientError, ConfigurationError, ServiceUnavailable

from orchestrator.errors import GraphStoreUnavailable
from orchestrator.graph import queries as q
from orchestrator.graph.cypher_store import CypherStore
from orchestrator.graph.results import (
    Rows,
)
from orchestrator.graph.rows import Write

BOLT_SCHEMES = ("neo4j", "neo4j+s", "neo4j+ssc", "bolt", "bolt+s", "bolt+ssc")


class Neo4jGraphStore(CypherStore):
    _count_queries = (q.NEO4J_COUNT_NODES, q.NEO4J_COUNT_RELATIONSHIPS)

    def __init__(
        self, uri: str, user: str, password: str, database: str = "neo4j",
        connection_timeout_s: float = 10.0,
    ) -> None:
        super().__init__()
        self._uri = uri
        self._user = user
        self._password = password
        self._database = database
        self._connection_timeout_s = connection_timeout_s
        self._driver: AsyncDriver | None = None
        # Every session shares one bookmark manager, so a read sees this process's
        # earlier writes even when a cluster routes it to another member.
        self._bookmarks = AsyncGraphDatabase.bookmark_manager()

    async def setup(self) -> None:
        """Connect, check the credentials and the database, create the constraints."""
        self._check_uri()
        try:
            driver = AsyncGraphDatabase.driver(
                self._uri, auth=(self._user, self._password),
                connection_timeout=self._connection_timeout_s,
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

    def _check_uri(self) -> None:
        parts = urlsplit(self._uri)
        # The driver also takes http(s) URIs, for a preview API this store does not use.
        if parts.scheme not in BOLT_SCHEMES:
            raise GraphStoreUnavailable(
                f"invalid Neo4j URI {self._uri!r}: it should start with "
                + " or ".join(f"{scheme}://" for scheme in BOLT_SCHEMES)
            )
        try:
            parts.port  # noqa: B018 -- parsing the port is the check
        except ValueError as err:
            raise GraphStoreUnavailable(f"invalid Neo4j URI {self._uri!r}: {err}") from err

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

    async def _create_schema(self, statement: str) -> None:
        try:
            await self._batch([(statement, {})])
        except ClientError as err:
            # Two processes starting at once may both find a constraint missing; the
            # second to create it is told it exists, which is what it wanted.
            if not (err.code or "").endswith("AlreadyExists"):
                raise

    async def close(self) -> None:
        driver, self._driver = self._driver, None
        if driver is not None:
            await driver.close()

    def _session(self) -> AsyncSession:
        if self._driver is None:
            raise RuntimeError("graph store is not open: call setup() first")
        return self._driver.session(database=self._database, bookmark_manager=self._bookmarks)

    async def _read(self, query: str, **params: Any) -> Rows:
        async with self._session() as session:
            return await session.execute_read(_rows, query, params)

    async def _write_rows(self, query: str, **params: Any) -> Rows:
        async with self._session() as session:
            return await session.execute_write(_rows, query, params)

    async def _transaction(self, writes: list[Write]) -> None:
        async with self._session() as session:
            await session.execute_write(_run_all, writes)


async def _rows(tx: AsyncManagedTransaction, query: str, params: dict[str, Any]) -> Rows:
    result = await tx.run(query, params)
    return await result.values()


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
